"""A durable outbox survives its process: `kill -9` during an outage with 10,000 events queued, and a new
process that opens the same file delivers every one to the sandbox (Autumn's `batch_track`), each
counted once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from meterly.sandbox import Sandbox

from .conftest import client_with_outbox, ledger, usage_of

WRITER = Path(__file__).with_name("durable_writer.py")
SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_kill_9_during_an_outage_loses_nothing_and_the_next_process_delivers_each_once(
    sandbox: Sandbox, durable_path: str
) -> None:
    sandbox.engine.faults.outage = True
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), sandbox.url, durable_path, "10000"],
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
    assert usage_of(sandbox) == 0
    sandbox.engine.faults.outage = False
    client = client_with_outbox(sandbox.url, path=durable_path)
    assert client.outbox.pending() == 10_000
    result = client.outbox.flush(timeout_ms=20_000)
    client.close()
    assert result.pending == 0
    assert usage_of(sandbox) == 10_000
    arrivals = ledger(sandbox).batch_arrivals
    assert len(arrivals) == 10_000
    assert max(arrivals.values()) == 1
