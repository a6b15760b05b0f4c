"""The usage outbox, measured: the hot path, delivery throughput, an outage and recovery, and `kill -9`.

`python bench/outbox.py` (from the repository root) prints:
- hot path: the median, p99, p99.5 and max of one enqueue (`client.outbox.balances.track(...)`) with 8
  threads enqueueing at once, in memory [p99 <= 50 us] and durable [p99 <= 1 ms], while the sender
  delivers; then one thread alone, whose tail owes nothing to the GIL. First, how often a thread spinning
  alone loses the CPU here (interrupts, the hypervisor): the share of short calls whose time is the
  machine's;
- throughput: events/s delivered through Autumn's `batch_track` [>= 20,000] and through Commet's one
  `usage.track` per event, each from a full outbox once the service comes back;
- outage: `--outage-seconds` (30) of outage while events keep being queued, then recovery: how long the
  backlog took to drain, and whether the service's totals equal the sum of the queued values;
- kill -9: 10,000 events queued durably during an outage, the process killed, a new process opening
  the file: how long it took to deliver them all, and whether each counted once.

Every figure is taken against `meterly.sandbox.Sandbox` on 127.0.0.1, which deduplicates `batch_track`
items by `idempotency_key` for 24 hours as Autumn does (and Commet's writes by `Idempotency-Key`), so
"counted once" is read from its own balances. For the hot path it is served from another process, so
its threads take no share of the enqueueing process's GIL; elsewhere in this one, so its totals can be
read directly. `--quick` runs smaller counts and a 3 s outage.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.outbox.conftest import SEED, OutboxEngine  # noqa: E402

from meterly import Meterly  # noqa: E402
from meterly.outbox import Outbox  # noqa: E402
from meterly.sandbox import DEFAULT_API_KEY, Sandbox, SandboxEngine  # noqa: E402

FAST = {"retry_initial_ms": 50, "retry_max_ms": 1_000}


def client(url: str, **outbox: Any) -> Meterly:
    return Meterly(api_key=DEFAULT_API_KEY, server_url=url, outbox=Outbox(**{**FAST, **outbox}))


class RemoteSandbox:
    """The sandbox served from its own process (`--serve-sandbox`), as a real service is: its threads take
    no share of the measured process's GIL. Driven over its stdin: `outage on`/`outage off`, `usage`."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-sandbox"], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        )  # fmt: skip
        self.url = self._read()

    def _read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def _tell(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._read()

    def outage(self, on: bool) -> None:
        self._tell("outage on" if on else "outage off")

    def usage(self) -> Decimal:
        """What the sandbox counted for cus_1's api_calls."""
        return Decimal(self._tell("usage"))

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()


def serve_sandbox() -> None:
    """Serve a sandbox on SEED, print its URL, answer the commands RemoteSandbox sends, stop at EOF."""
    engine = SandboxEngine.from_seed(SEED)
    with Sandbox(engine) as sandbox:
        print(sandbox.url, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command.startswith("outage"):
                engine.faults.outage = command == "outage on"
                print("ok", flush=True)
            elif command == "usage":
                print(usage(engine), flush=True)


def hot_path(path: str | None, per_thread: int, threads: int = 8) -> dict[str, float]:
    """Enqueue latency (seconds) with `threads` threads at once, the sender delivering meanwhile."""
    with RemoteSandbox() as sandbox:
        c = client(sandbox.url, path=path, max_pending=1_000_000)
        track = c.outbox.balances.track
        track(customer_id="cus_1", feature_id="api_calls", value=1)  # opens the store, compiles the checks
        samples: list[list[float]] = [[] for _ in range(threads)]
        start = threading.Barrier(threads)

        def run(mine: list[float]) -> None:
            clock = time.perf_counter
            start.wait()
            for _ in range(per_thread):
                t0 = clock()
                track(customer_id="cus_1", feature_id="api_calls", value=1)
                mine.append(clock() - t0)

        threads = [threading.Thread(target=run, args=(s,)) for s in samples]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        left = c.outbox.flush(timeout_ms=60_000).pending
        c.close()
    every = sorted(x for s in samples for x in s)
    return {
        "median": statistics.median(every),
        "p99": every[int(len(every) * 0.99)],
        "p99.5": every[int(len(every) * 0.995)],
        "max": every[-1],
        "n": len(every),
        "left": left,
    }


def interruptions(seconds: float = 1.0, gap_ns: int = 5_000) -> Dict[str, float]:
    """How often this thread, spinning alone, loses the CPU for more than `gap_ns`, and for how long: the
    interrupts and preemptions (the hypervisor's too) that any short call risks here. A call of d seconds
    is hit with probability about `per_second * d`, so that share of calls owes its time to the machine."""
    clock = time.perf_counter_ns
    gaps: List[int] = []
    last = started = clock()
    end = started + int(seconds * 1e9)
    while last < end:
        now = clock()
        if now - last > gap_ns:
            gaps.append(now - last)
        last = now
    elapsed = (last - started) / 1e9
    return {
        "per_second": len(gaps) / elapsed,
        "median_us": statistics.median(gaps) / 1e3 if gaps else 0.0,
        "lost": sum(gaps) / 1e9 / elapsed,
    }


def usage(engine: SandboxEngine) -> Decimal:
    """What the sandbox counted for cus_1's api_calls (Autumn's and Commet's writes land on one balance)."""
    balance = engine.balance("cus_1", "api_calls")
    assert balance is not None
    return Decimal(str(balance["usage"]))


def batch_throughput(events: int, path: str | None) -> float:
    with RemoteSandbox() as sandbox:
        c = client(sandbox.url, path=path, max_pending=events + 1)
        sandbox.outage(True)
        track = c.outbox.balances.track
        for _ in range(events):
            track(customer_id="cus_1", feature_id="api_calls", value=1)
        sandbox.outage(False)
        t0 = time.perf_counter()
        result = c.outbox.flush(timeout_ms=120_000)
        elapsed = time.perf_counter() - t0
        c.close()
        assert result.pending == 0
        assert sandbox.usage() == events  # each counted once
    return events / elapsed


def commet_throughput(events: int) -> float:
    engine = SandboxEngine.from_seed(SEED)
    with Sandbox(engine) as sandbox:
        c = client(sandbox.url)
        engine.faults.outage = True
        for _ in range(events):
            c.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=1)
        engine.faults.outage = False
        t0 = time.perf_counter()
        result = c.outbox.flush(timeout_ms=120_000)
        elapsed = time.perf_counter() - t0
        c.close()
        assert result.pending == 0
        assert usage(engine) == events
    return events / elapsed


def outage(seconds: float, rate: int) -> dict[str, Any]:
    """Queue `rate` events/s to each service through an outage of `seconds`, then time the drain."""
    engine = OutboxEngine.from_seed(SEED)
    assert isinstance(engine, OutboxEngine)
    with Sandbox(engine) as sandbox:
        commet = client(sandbox.url, retry_max_ms=5_000)
        autumn = client(sandbox.url, retry_max_ms=5_000)
        engine.faults.outage = True
        queued_commet = queued_autumn = Decimal(0)
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            value = Decimal(i % 9 + 1) / 4
            commet.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=float(value))
            autumn.outbox.balances.track(customer_id="cus_2", feature_id="api_calls", value=float(value))
            queued_commet += value
            queued_autumn += value
            i += 1
            time.sleep(1 / rate)
        engine.faults.outage = False
        t0 = time.perf_counter()
        left = (
            commet.outbox.flush(timeout_ms=120_000).pending + autumn.outbox.flush(timeout_ms=120_000).pending
        )
        drained = time.perf_counter() - t0
        commet.close()
        autumn.close()
        autumn_used = engine.balance("cus_2", "api_calls")
        assert autumn_used is not None
        return {
            "events per service": i,
            "drained in s": round(drained, 2),
            "left": left,
            "commet totals equal": usage(engine) == queued_commet,
            "autumn totals equal": Decimal(str(autumn_used["usage"])) == queued_autumn,
            "autumn resent items": sum(1 for n in engine.batch_arrivals.values() if n > 1),
        }


def kill_9(events: int) -> dict[str, Any]:
    engine = OutboxEngine.from_seed(SEED)
    assert isinstance(engine, OutboxEngine)
    with tempfile.TemporaryDirectory() as folder, Sandbox(engine) as sandbox:
        path = os.path.join(folder, "outbox.sqlite3")
        engine.faults.outage = True
        writer = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/outbox/durable_writer.py"), sandbox.url, path, str(events)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )  # fmt: skip
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "queued"
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        before = usage(engine)
        engine.faults.outage = False
        t0 = time.perf_counter()
        c = client(sandbox.url, path=path)
        result = c.outbox.flush(timeout_ms=60_000)
        elapsed = time.perf_counter() - t0
        c.close()
        return {
            "delivered": result.delivered,
            "left": result.pending,
            "counted once": before == 0
            and usage(engine) == events
            and len(engine.batch_arrivals) == events
            and max(engine.batch_arrivals.values()) == 1,
            "seconds": round(elapsed, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="smaller counts, a 3 s outage")
    parser.add_argument(
        "--only",
        choices=("hot", "throughput", "commet", "outage", "kill"),
        action="append",
        help="run only these parts (repeatable); default: all",
    )
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox()
        return
    parts = set(args.only or ("hot", "throughput", "commet", "outage", "kill"))
    per_thread = 2_000 if args.quick else 10_000
    outage_seconds = 3.0 if args.quick else args.outage_seconds
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "hot" in parts:
        gaps = interruptions()
        print(
            f"this core, spinning: {gaps['per_second']:.0f} interruptions/s over 5 us, median "
            f"{gaps['median_us']:.0f} us ({gaps['lost']:.1%} of the time): a 10 us call is hit "
            f"{gaps['per_second'] * 10e-6:.2%} of the time"
        )
    with tempfile.TemporaryDirectory() as folder:
        for label, path in (("memory", None), ("durable", os.path.join(folder, "hot.sqlite3"))):
            if "hot" not in parts:
                break
            count = per_thread if path is None else per_thread // 4
            for threads in (8, 1):  # one thread alone: the tail that owes nothing to the GIL
                figures = hot_path(path, count * 8 // threads, threads)
                print(
                    f"hot path, {label:7}, {threads} thread{'s' if threads > 1 else ' '}: "
                    f"median {figures['median'] * 1e6:5.1f} us  p99 {figures['p99'] * 1e6:6.1f} us"
                    f"  p99.5 {figures['p99.5'] * 1e6:6.1f} us  max {figures['max'] * 1e3:6.2f} ms"
                    f"  ({figures['n']:.0f} enqueues; {figures['left']:.0f} left after the flush)"
                )
        n = 20_000 if args.quick else 100_000
        if "throughput" in parts:
            print(f"batch_track, memory : {batch_throughput(n, None):9,.0f} events/s ({n:,} events)")
            durable = batch_throughput(n, os.path.join(folder, "tp.sqlite3"))
            print(f"batch_track, durable: {durable:9,.0f} events/s")
    n = 1_000 if args.quick else 5_000
    if "commet" in parts:
        rate = commet_throughput(n)
        print(f"usage.track (Commet, one call per event), memory: {rate:7,.0f} events/s ({n:,})")
    if "outage" in parts:
        print(f"outage of {outage_seconds:g} s, then recovery: {outage(outage_seconds, 200)}")
    if "kill" in parts:
        print(f"kill -9 with 10,000 queued durably, then a new process: {kill_9(10_000)}")


if __name__ == "__main__":
    main()
