"""`make demo` runs examples/quickstart.py against the built-in sandbox: it must run and tell the truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_runs_against_the_sandbox_and_prints_real_results() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "Meterly sandbox running at http://127.0.0.1:" in out
    assert "cus_free sends message #3          allowed=False" in out
    assert "-> paywall: 'Messages limit reached' (usage_limit)" in out
    assert "5 deducted once over 2 attempts" in out
    assert "reason=insufficient_balance" in out
    assert "fail_open=False: raised InternalServerError (status 503" in out
    assert "fail_open=True:  allowed=True is_fallback=True" in out
    assert out.rstrip().endswith("Done: everything above ran against the local sandbox.")
    assert "ResourceWarning" not in done.stderr
