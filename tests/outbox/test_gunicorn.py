"""A real gunicorn app with `--preload` and 4 workers, each queueing into one durable outbox file while
requests arrive concurrently: every event is delivered to the sandbox, once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from meterly.sandbox import DEFAULT_API_KEY, Sandbox

from .conftest import ledger, usage_of

pytest.importorskip("gunicorn")

TESTS = Path(__file__).resolve().parents[2]
REQUESTS = 400


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            httpx.get(f"{url}/?key=warmup", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_four_preloaded_workers_share_one_durable_file_and_deliver_every_event_once(
    sandbox: Sandbox, durable_path: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS / "src"), str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "OUTBOX_TEST_KEY": DEFAULT_API_KEY,
        "OUTBOX_TEST_URL": sandbox.url,
        "OUTBOX_TEST_PATH": durable_path,
    }
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--preload", "-w", "4", "-b", f"127.0.0.1:{port}",
         "--graceful-timeout", "5", "tests.outbox.gunicorn_app:app"],
        env=env, cwd=TESTS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, gunicorn)
        with httpx.Client(timeout=5) as http:

            def hit(i: int) -> str:
                return http.get(f"{url}/?key=req-{i}").headers["x-worker"]

            with ThreadPoolExecutor(8) as pool:
                workers = set(pool.map(hit, range(REQUESTS)))
        deadline = time.monotonic() + 20
        while usage_of(sandbox) < REQUESTS + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(20)
    assert len(workers) > 1  # the requests were spread over several workers
    assert usage_of(sandbox) == REQUESTS + 1  # the warm-up request's event too
    recorded = ledger(sandbox).recorded()
    assert all(recorded[f"req-{i}"] == 1 for i in range(REQUESTS))
    arrived = ledger(sandbox).arrived()
    assert all(arrived[f"req-{i}"] == 1 for i in range(REQUESTS))  # leases: no two workers sent one event
