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
    assert "event evt-demo recorded once over 2 attempts (1 recorded)" in out
    assert "send_event check: raised WriteOutcomeUnknownError" in out
    assert "5 deducted once, never resent" in out
    assert "reason=insufficient_balance" in out
    assert "fail_open=False: raised InternalServerError (status 503" in out
    assert "fail_open=True:  allowed=True is_fallback=True" in out
    assert out.rstrip().endswith("Done: everything above ran against the local sandbox.")
    assert "ResourceWarning" not in done.stderr


def test_make_demo_installs_only_the_package_into_an_environment_of_its_own() -> None:
    import shutil

    import pytest

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    installs = [line for line in plan if "pip install" in line]
    assert installs == [".venv-demo/bin/python -m pip install --quiet --disable-pip-version-check ."]
    assert plan[0] == "test -x .venv-demo/bin/python || python3 -m venv .venv-demo"
    assert plan[-1] == ".venv-demo/bin/python examples/quickstart.py"
    assert not [line for line in plan if ".venv/" in line or "[dev]" in line or "pyright" in line]
    assert ".venv-demo/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_demo_needs_nothing_but_the_package_and_the_standard_library() -> None:
    import ast

    tree = ast.parse((ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8"))
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported - set(sys.stdlib_module_names) == {"meterly"}
