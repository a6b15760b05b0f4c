"""The system calls of a thread queueing on the usage outbox, read with `strace -f` (Linux, strace installed).

`python bench/outbox_syscalls.py` (from the repository root) runs itself under `strace -f`: one thread
queues 50,000 `balances.track` events, 1,000 each 10 ms, with the sender backing off (nothing is
delivered), first in memory, then durable; the thread marks the loop with two writes to fd 2, and the
system calls that thread made between the marks are counted. Its own sleeps are among them (one
`clock_nanosleep` each, and the `futex` of the GIL handed over meanwhile), and so is `futex` when the
sender or the writer asks for the GIL; a system call of the enqueue path itself would show as anything
else (`getrandom` for a key, `fsync`/`pwrite64` for SQLite, `getpid`).
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS = 50_000
PACE = 1_000
"""Events queued between two 10 ms sleeps."""


def probe(mode: str) -> None:
    """Queue the events (run under strace): print this thread's id, then mark the loop on fd 2."""
    sys.path[:0] = [str(ROOT / "src")]
    from meterly.outbox import RETRY, ClientOutbox, Outbox, Outcome

    path = os.path.join(tempfile.mkdtemp(), "outbox.sqlite3") if mode == "durable" else None
    config = Outbox(
        path=path, max_pending=1_000_000, retry_initial_ms=60_000, retry_max_ms=60_000, close_timeout_ms=0
    )
    box = ClientOutbox(None, config, deliver=lambda op, events: [Outcome(RETRY)] * len(events))
    track = box.balances.track
    track(customer_id="cus_1", feature_id="api_calls", value=1)
    time.sleep(0.3)  # the sender's first delivery fails: it backs off
    print(threading.get_native_id(), file=sys.stderr, flush=True)
    os.write(2, b"MARK-START\n")
    for i in range(EVENTS):
        track(customer_id="cus_1", feature_id="api_calls", value=1)
        if i % PACE == PACE - 1:
            time.sleep(0.01)
    os.write(2, b"MARK-END\n")
    os._exit(0)  # no close: its system calls are not the loop's


def count(mode: str) -> collections.Counter[str]:
    with tempfile.TemporaryDirectory() as folder:
        trace = os.path.join(folder, "trace")
        done = subprocess.run(
            ["strace", "-f", "-o", trace, sys.executable, __file__, "--probe", mode],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        thread = re.findall(r"^(\d+)$", done.stderr, re.MULTILINE)[0]  # after the sender's log line
        calls: collections.Counter[str] = collections.Counter()
        inside = False
        for line in Path(trace).read_text().splitlines():
            pid, _, call = line.partition(" ")
            if pid != thread:
                continue
            if "MARK-START" in call:
                inside = True
            elif "MARK-END" in call:
                break
            elif inside:
                match = re.match(r"\s*(?:<\.\.\. )?(\w+)", call)
                if match and "resumed>" not in call:
                    calls[match.group(1)] += 1
        return calls


def main() -> None:
    if sys.argv[1:2] == ["--probe"]:
        probe(sys.argv[2])
        return
    if shutil.which("strace") is None:
        sys.exit("strace is not installed")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for mode in ("memory", "durable"):
        calls = count(mode)
        listed = ", ".join(f"{name} {n}" for name, n in sorted(calls.items()))
        print(f"{mode:7}: {EVENTS:,} enqueues, {EVENTS // PACE} sleeps of the loop: {listed}")


if __name__ == "__main__":
    main()
