"""The README's sandbox example is a real pytest file using the plugin's fixtures, and it passes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inner_pytest import only_these_plugins

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Testing your app against the sandbox"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the section has no python block"
    return match.group(1)


def test_readme_sandbox_example_passes_under_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_paywall=readme_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *only_these_plugins())
    result.assert_outcomes(passed=4)


def test_readme_sandbox_example_uses_the_plugins_fixtures() -> None:
    code = readme_example()
    for fixture in ("meterly_client", "meterly_engine", "meterly_server"):
        assert f"{fixture}" in code
    assert "SandboxTransport(" not in code


def _block_after(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no python block after {heading}"
    return match.group(1)


def test_the_fastapi_lifespan_example_passes_under_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(_block_after("### An async app: FastAPI"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "test_app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_library_example_prints_what_its_comments_say(tmp_path: Path) -> None:
    script = tmp_path / "library.py"
    script.write_text(_block_after("### The sandbox as a library"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-W", "error", str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "15 7 8" in lines
    assert "the fault: 503" in lines
    assert lines.count("True") == 1
    assert lines[-2] == "balancesCheck 503 None"
    assert lines[-1].startswith("balancesCheck 200 {")


def test_every_documented_engine_method_has_a_docstring_and_a_readme_example() -> None:
    from meterly.sandbox import SandboxEngine

    section = README.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    for name in ("demo", "from_seed", "balance", "grant", "track"):
        assert (getattr(SandboxEngine, name).__doc__ or "").strip(), name
        assert f".{name}(" in section, name
    for attribute in ("clock", "faults", "history"):
        assert f"{attribute}:" in (SandboxEngine.__doc__ or ""), attribute
        assert f".{attribute}" in section, attribute
