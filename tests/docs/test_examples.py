"""Every ```python block of README.md, USAGE.md and docs/ runs, against the sandbox on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meterly.sandbox import Sandbox, SandboxEngine
from tests.docs.codeblocks import ROOT, BlockRunner, CodeBlock, code_blocks, failure_report, python_blocks

API_KEY = "sk_test_docs_example_key"
BLOCKS = python_blocks()


PLACEHOLDER_KEYS = ("am_sk_...", "ck_...")
"""The keys the examples that talk to Autumn and Commet show (their URLs are pointed at the sandbox)."""


def docs_engine() -> SandboxEngine:
    """The demo data (most examples use its customers), the docs' key and the placeholder keys, and
    `cus_123` (on the Pro plan) for the examples that show the real services' own ids."""
    engine = SandboxEngine.demo().add_api_key(API_KEY).add_customer("cus_123", plans=["pro"])
    for key in PLACEHOLDER_KEYS:
        engine.add_api_key(key)
    return engine


@pytest.fixture(scope="module")
def runner() -> Iterator[BlockRunner]:
    with Sandbox(docs_engine()) as server, BlockRunner(server.url, API_KEY) as block_runner:
        yield block_runner


def test_readme_and_usage_have_examples_to_run() -> None:
    pages = {block.path.name for block in BLOCKS if block.path.parent == ROOT}
    assert pages == {"README.md", "USAGE.md"}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.where)
def test_example_runs(block: CodeBlock, runner: BlockRunner) -> None:
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


def test_the_default_server_in_an_example_is_pointed_at_the_sandbox(
    tmp_path: Path, runner: BlockRunner
) -> None:
    page = tmp_path / "PAGE.md"
    page.write_text(
        '```python\nfrom meterly import Meterly\n\nclient = Meterly(server_url="https://api.meterly.dev")\n'
        'assert client.balances.check(customer_id="cus_pro", feature_id="messages").allowed\n```\n',
        encoding="utf-8",
    )
    (block,) = python_blocks([page])

    assert runner.run(block).returncode == 0


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
