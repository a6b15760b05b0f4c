"""The files a maintainer expects: a LICENSE matching pyproject.toml, a changelog, a contributing guide."""

from __future__ import annotations

import re

from tests.docs.codeblocks import ROOT


def test_the_license_file_is_the_mit_license_that_pyproject_declares() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^license = "MIT"$', pyproject, re.MULTILINE)
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_the_changelog_keeps_an_unreleased_section_with_the_keep_a_changelog_headings() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "keepachangelog.com" in text
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^### (\w+)$", unreleased, re.MULTILINE) == ["Added", "Changed", "Fixed"]


def test_contributing_names_the_two_commands_docs_regeneration_and_adding_an_operation() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for expected in ("make demo", "make test", "make docs", "## Adding an operation"):
        assert expected in text


def test_the_readme_links_the_pages_that_moved_out_of_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("docs/performance.md", "docs/development.md", "CONTRIBUTING.md", "CHANGELOG.md", "LICENSE"):
        assert f"]({page})" in readme, page
        assert (ROOT / page).exists(), page
    assert "| sync latency per call" not in readme, "the performance report lives in docs/performance.md"
