"""pyreqwest's runtime thread may still be busy with a failed attempt when the interpreter exits, and
reaching for the GIL then aborts the process: the engine waits at exit until `SETTLE_SECONDS` have passed
since the last failed attempt (the module's docstring has the measurements)."""

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
