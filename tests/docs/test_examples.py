"""Every ```python block of README.md, USAGE.md and docs/ runs as written, against the sandbox started as
the README says (`meterly sandbox serve`: the demo data and its key, named by `METERLY_SERVER_URL` and
`METERLY_API_KEY`), and passes mypy --strict and pyright (strict) as a user would paste it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import List

import pytest

from meterly.sandbox import DEFAULT_API_KEY, Sandbox, SandboxEngine
from tests.docs.codeblocks import (
    REAL_SERVERS,
    ROOT,
    BlockRunner,
    CodeBlock,
    code_blocks,
    failure_report,
    python_blocks,
    strict_type_check,
)

API_KEY = DEFAULT_API_KEY
BLOCKS = python_blocks()


@pytest.fixture(scope="module")
def runner() -> Iterator[BlockRunner]:
    # What `meterly sandbox serve` serves (on a free port rather than 8787, which may be taken here).
    with Sandbox(SandboxEngine.demo()) as server, BlockRunner(server.url, API_KEY) as block_runner:
        yield block_runner


def test_readme_and_usage_have_examples_to_run() -> None:
    pages = {block.path.name for block in BLOCKS if block.path.parent == ROOT}
    assert pages == {"README.md", "USAGE.md"}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.where)
def test_example_runs(block: CodeBlock, runner: BlockRunner) -> None:
    if block.needs_account:
        pytest.skip(f"{block.where}: {block.needs_account}, the line above it says")
    result = runner.run(block)
    assert result.returncode == 0, failure_report(block, result)
    assert API_KEY not in result.stdout + result.stderr, f"{block.where} printed the API key"


def test_usage_examples_are_also_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in python_blocks([ROOT / "USAGE.md"]):
        assert block.code.strip() in readme, f"{block.where} is not in README.md's SDK Example Usage"


def test_a_failing_example_is_reported_with_its_page_and_line(tmp_path: Path, runner: BlockRunner) -> None:
    page = tmp_path / "PAGE.md"
    page.write_text(
        "# Page\n\n```python\nfrom meterly import Meterly\n\nwith Meterly() as client:\n"
        '    client.balances.check(customer_id="cus_missing", feature_id="messages")\n```\n',
        encoding="utf-8",
    )
    (block,) = python_blocks([page])
    assert block.line == 4

    result = runner.run(block)

    assert result.returncode != 0
    report = failure_report(block, result)
    assert report.startswith(f"the example at {page}:4 failed")
    assert 'File "' + str(page) + '", line 7' in report
    assert "NotFoundError" in report


def test_a_pytest_block_runs_under_pytest(tmp_path: Path, runner: BlockRunner) -> None:
    page = tmp_path / "PAGE.md"
    page.write_text(
        "```python\nimport os\n\n\ndef test_the_sandbox_is_configured():\n"
        '    assert os.environ["METERLY_SERVER_URL"].startswith("http://127.0.0.1:")\n\n\n'
        "def test_fails():\n    assert 1 == 2\n```\n",
        encoding="utf-8",
    )
    (block,) = python_blocks([page])
    assert block.is_pytest_file

    result = runner.run(block)

    assert result.returncode == 1
    assert "1 failed, 1 passed" in result.stdout


def test_no_host_in_an_example_is_rewritten(tmp_path: Path, runner: BlockRunner) -> None:
    page = tmp_path / "PAGE.md"
    page.write_text(
        "```python\nfrom meterly import Meterly\n\n"
        'client = Meterly(server_url="http://127.0.0.1:9", max_retries=0)\n'
        'client.balances.check(customer_id="cus_pro", feature_id="messages")\n```\n',
        encoding="utf-8",
    )
    (block,) = python_blocks([page])

    result = runner.run(block)

    assert result.returncode != 0
    assert "APIConnectionError" in result.stderr


def test_only_blocks_that_need_a_real_account_are_not_run_and_they_say_so() -> None:
    for block in BLOCKS:
        talks_to_a_real_service = any(host in block.code for host in REAL_SERVERS)
        if block.needs_account:
            assert talks_to_a_real_service, f"{block.where} says it needs an account but uses none"
        else:
            assert not talks_to_a_real_service, (
                f"{block.where} talks to a real service: point it at the sandbox, or write "
                '"Needs a real Autumn account" (or Commet) in the line right above it'
            )
    assert sum(1 for block in BLOCKS if block.needs_account) >= 2


def test_the_account_line_is_read_from_right_above_the_block() -> None:
    text = (
        "Needs a real Autumn account:\n\n```python\nprint(1)\n```\n\nText.\n\n```python\nprint(2)\n```\n"
        "\nNeeds a real Autumn and a real Commet account.\n```python\nprint(3)\n```\n"
    )
    blocks = code_blocks(Path("X.md"), text)
    assert [block.needs_account for block in blocks] == [
        "Needs a real Autumn account",
        None,
        "Needs a real Autumn and a real Commet account",
    ]


def _markdown_files() -> List[Path]:
    skipped = {".venv", ".tools", "node_modules", ".pytest_cache", "build", "dist", ".git"}
    return sorted(
        path for path in ROOT.rglob("*.md") if not skipped.intersection(path.relative_to(ROOT).parts)
    )


def test_every_markdown_fence_is_closed() -> None:
    files = _markdown_files()
    assert ROOT / "docs" / "integrations" / "pytest.md" in files
    unclosed = [block.where for path in files for block in code_blocks(path) if not block.closed]
    assert unclosed == []


def test_an_unclosed_fence_is_found() -> None:
    blocks = code_blocks(Path("X.md"), "```python\nprint(1)\n```\n\n```bash\nmake test\n")
    assert [block.closed for block in blocks] == [True, False]


def test_every_example_passes_mypy_and_pyright_strict_as_written(tmp_path: Path) -> None:
    files: List[Path] = []
    for index, block in enumerate(BLOCKS):
        path = tmp_path / f"block_{index:03d}.py"
        path.write_text(block.code, encoding="utf-8")
        files.append(path)

    def on_the_page(match: re.Match[str]) -> str:
        block = BLOCKS[int(match[1])]
        return f"{block.where.rsplit(':', 1)[0]}:{block.line + int(match[2]) - 1}"

    failures = []
    for result in strict_type_check(tmp_path, files):
        report = re.sub(r"(?:\S*/)?block_(\d{3})\.py:(\d+)", on_the_page, result.output)
        if result.returncode != 0:
            failures.append(f"{result.checker} (strict) on the docs' examples:\n{report}")
    assert not failures, "\n\n".join(failures)


def test_fences_of_other_languages_are_not_run() -> None:
    blocks = code_blocks(Path("X.md"), "```bash\nmake test\n```\n\n````python\nprint(1)\n````\n")
    assert [(block.language, block.line, block.code) for block in blocks] == [
        ("bash", 2, "make test\n"),
        ("python", 6, "print(1)\n"),
    ]


def _readme_block(containing: str) -> CodeBlock:
    (block,) = [block for block in python_blocks([ROOT / "README.md"]) if containing in block.code]
    return block


def test_the_error_handling_example_catches_a_real_404(runner: BlockRunner) -> None:
    result = runner.run(_readme_block('customer_id="cus_missing"'))
    assert result.stdout.startswith(
        "404 customer_not_found balancesCheck: no customer 'cus_missing' req_sbx_"
    )


def test_the_fail_open_example_really_falls_back(runner: BlockRunner) -> None:
    result = runner.run(_readme_block("127.0.0.1:9"))
    assert result.stdout == "True True connection\n"
