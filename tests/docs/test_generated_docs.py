"""The generated pages are up to date, keep the seed pages' content, and every link in the docs resolves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest
from scripts import gen_docs
from scripts.modelinfo import model_classes

from meterly import models
from meterly.models.checkresponse import BALANCE_EXAMPLE
from tests.docs.codeblocks import ROOT, doc_files

SEEDS = Path(__file__).with_name("seeds")
RENDERED = gen_docs.render_all()


def _table(text: str) -> Dict[str, Dict[str, str]]:
    """A page's Fields table as {field: {column: cell}}, cells stripped."""
    rows = [line for line in text.split("\n") if line.startswith("| ")]
    header = [cell.strip() for cell in rows[0].strip("|").split(" | ")]
    table = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
        table[cells[0]] = dict(zip(header, cells, strict=True))
    return table


def test_generated_files_are_up_to_date() -> None:
    assert gen_docs.stale_files(RENDERED) == [], "run `make docs` and commit the result"


def test_a_changed_page_is_reported_stale() -> None:
    changed = dict(RENDERED)
    path = Path("docs/models/balance.md")
    changed[path] = changed[path].replace("The feature this balance is for.", "Something else.")
    assert gen_docs.stale_files(changed) == ["docs/models/balance.md"]


def test_a_changed_contract_makes_the_lock_stale() -> None:
    lock = gen_docs.render_lock(gen_docs.render_pages())
    assert gen_docs._checksum(Path("openapi.yaml")) in lock
    assert gen_docs._checksum(Path(".speakeasy/gen.yaml")) in lock


def test_every_model_has_a_page() -> None:
    pages = {path.name for path in RENDERED if path.parent == Path("docs/models")}
    assert {f"{cls.__name__.lower()}.md" for cls in model_classes()} <= pages
    assert {"previewproduct.md", "checkresponse.md", "security.md", "resetinterval.md"} <= pages


@pytest.mark.parametrize("page", ["checkresponse.md", "balancescheckrequest.md", "balance.md"])
def test_seed_pages_carry_over(page: str) -> None:
    seed = _table((SEEDS / page).read_text(encoding="utf-8"))
    ours = _table(RENDERED[Path("docs/models") / page])
    assert [field for field in ours if field in seed] == list(seed)
    # Fields of later published versions come after the seed's own, and are all optional.
    added = [field for field in ours if field not in seed]
    assert list(ours) == list(seed) + added
    assert all(ours[field]["Required"] == ":heavy_minus_sign:" for field in added), added
    for field, seed_row in seed.items():
        for column, cell in seed_row.items():
            if column == "Description" and cell == "N/A":
                continue  # the seed had no description; ours may say more
            assert ours[field][column] == cell, f"{page} {field} {column}"


def test_the_checkresponse_page_starts_like_the_seed() -> None:
    assert RENDERED[Path("docs/models/checkresponse.md")].startswith(
        "# CheckResponse\n\nOK\n\n\n## Fields\n\n| Field "
    )


def test_the_balance_example_is_a_valid_balance() -> None:
    balance = models.Balance.model_validate(BALANCE_EXAMPLE)
    assert balance.model_dump(by_alias=True) == BALANCE_EXAMPLE


def test_the_model_vocabulary_is_rendered_like_speakeasy() -> None:
    table = _table(RENDERED[Path("docs/models/checkresponse.md")])
    assert table["`balance`"]["Type"] == "[Nullable[models.Balance]](../models/balance.md)"
    assert table["`entity_id`"]["Type"] == "*OptionalNullable[str]*"
    assert table["`required_balance`"]["Type"] == "*Optional[float]*"
    usage = _table(RENDERED[Path("docs/models/usagecheck.md")])
    consumption_model = usage["`consumption_model`"]
    assert consumption_model["Type"] == "[Optional[models.ConsumptionModel]](../models/consumptionmodel.md)"
    assert "JSON name: `consumptionModel`." in consumption_model["Description"]


def _links(text: str) -> List[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#+\s+(.*)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", doc_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for link in _links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(link)
    assert broken == []
