"""The README's sandbox example is a real pytest file using the plugin's fixtures, and it passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_readme_sandbox_example_uses_the_plugins_fixtures() -> None:
    code = readme_example()
    for fixture in ("meterly_client", "meterly_engine", "meterly_server"):
        assert f"{fixture}" in code
    assert "SandboxTransport(" not in code
