"""A durable outbox survives its process: `kill -9` during an outage with 10,000 events queued, and a new
process that opens the same file delivers every one, each counted once (Autumn's `batch_track`, against
`fake_autumn.py` until the sandbox serves it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .conftest import client_with_outbox
from .fake_autumn import serve

WRITER = Path(__file__).with_name("durable_writer.py")
SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_kill_9_during_an_outage_loses_nothing_and_the_next_process_delivers_each_once(
    durable_path: str,
) -> None:
    with serve() as fake:
        fake.outage = True
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), fake.url, durable_path, "10000"],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "queued"
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(10)
        assert writer.returncode == -signal.SIGKILL
        assert fake.totals == {}
        fake.outage = False
        client = client_with_outbox(fake.url, path=durable_path)
        assert client.outbox.pending() == 10_000
        result = client.outbox.flush(timeout_ms=20_000)
        client.close()
    assert result.pending == 0
    assert fake.totals[("cus_1", "messages")] == 10_000
    assert len(fake.seen) == 10_000
    assert max(fake.arrivals.values()) == 1
