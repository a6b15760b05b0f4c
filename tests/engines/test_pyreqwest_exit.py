"""Two ways pyreqwest 0.15 ends the process, and what the SDK does about them.

- Its runtime thread may still be busy with a failed attempt when the interpreter exits, and reaching
  for the GIL then aborts the process: the engine waits at exit until `SETTLE_SECONDS` have passed since
  the last failed attempt (the engine module's docstring has the measurements).
- It segfaults when the thread that first imported it and sent on it has exited and another thread
  builds a client: the SDK imports the engine where the client is built (`meterly.sdk._engine_for`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("pyreqwest")

from meterly._engines import pyreqwest_engine

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(pyreqwest_engine.time, "sleep", slept.append)
    monkeypatch.setattr(pyreqwest_engine, "_last_failure", [])
    return slept


def test_no_failed_attempt_no_wait(sleeps: list[float]) -> None:
    pyreqwest_engine._settle_at_exit()
    assert sleeps == []


def test_a_failed_attempt_is_waited_out_at_exit(sleeps: list[float]) -> None:
    error = pyreqwest_engine._httpx_error(RuntimeError("timed out"), None, closing=False)
    assert error.__class__.__name__ == "TransportError"
    pyreqwest_engine._settle_at_exit()
    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= pyreqwest_engine.SETTLE_SECONDS


def test_an_old_failure_is_not_waited_for(sleeps: list[float]) -> None:
    pyreqwest_engine._last_failure[:] = [time.monotonic() - pyreqwest_engine.SETTLE_SECONDS - 1]
    pyreqwest_engine._settle_at_exit()
    assert sleeps == []


def test_the_wait_runs_at_interpreter_exit() -> None:
    # Before finalizing: the wait happens between the script's last line and the end of the process.
    script = textwrap.dedent(
        """
        import time
        from meterly._engines import pyreqwest_engine
        pyreqwest_engine._last_failure[:] = [time.monotonic()]
        print(time.monotonic())
        """
    )
    started = time.monotonic()
    env = {"PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, env=env)
    ended = time.monotonic()
    assert done.returncode == 0, done.stderr
    assert ended - float(done.stdout) >= pyreqwest_engine.SETTLE_SECONDS
    assert ended - started < 10


CLIENT_PER_WORKER_ROUND = textwrap.dedent(
    """
    from concurrent.futures import ThreadPoolExecutor
    from meterly import Meterly
    from meterly.sandbox import Sandbox

    # Each round: a new sandbox and a new client built here, its first calls made by a pool's worker
    # thread that then exits (as a web server's worker threads come and go).
    for round_ in range(4):
        with Sandbox() as sb, Meterly(api_key=sb.api_key, server_url=sb.url, http_backend="pyreqwest") as c:
            def check(i):
                return c.balances.check(customer_id="cus_pro", feature_id="messages").allowed

            with ThreadPoolExecutor(1) as pool:
                answers = set(pool.map(check, range(20)))
            assert answers == {True}, answers
    print("ok")
    """
)


def test_clients_whose_first_calls_come_from_short_lived_threads_do_not_crash_the_process() -> None:
    # pyreqwest 0.15 crashes (SIGSEGV) when the thread that first imported it and sent on it has exited
    # and another thread builds a client; the SDK imports the engine where the client is built.
    env = {"PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_PER_WORKER_ROUND], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "ok"
