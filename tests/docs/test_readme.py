"""README.md has the sections SDK users look for, and its Table of Contents lists every section."""

from __future__ import annotations

import re

from tests.docs.codeblocks import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
REQUIRED_SECTIONS = [
    "Summary",
    "Table of Contents",
    "SDK Installation",
    "IDE Support",
    "SDK Example Usage",
    "Authentication",
    "Available Resources and Operations",
    "Retries",
    "Error Handling",
    "Server Selection",
    "Using Meterly with Autumn or Commet",
    "Custom HTTP Client",
    "Resource Management",
    "Debugging",
    "Fail-open",
    "Testing your app against the sandbox",
    "Development",
    "Raw responses",
    "Behaviour the contract leaves open, and what this SDK chose",
    "Framework integrations",
]


def _sections() -> list[str]:
    text = re.sub(r"```.*?```", "", README, flags=re.DOTALL)
    return re.findall(r"^## (.+)$", text, flags=re.MULTILINE)


def _toc() -> list[str]:
    toc = README.split("## Table of Contents", 1)[1].split("<!-- End Table of Contents", 1)[0]
    return re.findall(r"^\* \[(.+?)\]\(#", toc, flags=re.MULTILINE)


def test_readme_has_every_section_sdk_users_look_for() -> None:
    missing = [section for section in REQUIRED_SECTIONS if section not in _sections()]
    assert missing == []


def test_table_of_contents_lists_every_section_in_order() -> None:
    sections = [section for section in _sections() if section != "Table of Contents"]
    assert _toc() == sections, "add the new `## ` section to the Table of Contents, in order"


def test_the_two_commands_are_stated_near_the_top() -> None:
    top = README[: README.index("## Table of Contents")]
    assert "make demo" in top
    assert "make test" in top


def test_the_examples_show_sync_and_async_use() -> None:
    usage = README.split("## SDK Example Usage", 1)[1].split("\n## ", 1)[0]
    assert "with Meterly(" in usage
    assert "async with AsyncMeterly(" in usage
    assert "asyncio.run(main())" in usage


def test_each_integration_has_a_readme_section_and_a_docs_page_with_an_example() -> None:
    for heading, page in [
        ("### The pytest plugin", "pytest.md"),
        ("### FastAPI", "fastapi.md"),
        ("### Django", "django.md"),
        ("### OpenTelemetry", "otel.md"),
    ]:
        assert f"\n{heading}\n" in README, heading
        text = (ROOT / "docs" / "integrations" / page).read_text(encoding="utf-8")
        assert "```python\n" in text, page
