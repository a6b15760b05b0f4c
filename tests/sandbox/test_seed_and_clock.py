"""Seeds (dict, JSON file, Python API), the demo data, and the controllable clock."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from meterly.sandbox import DEMO_SEED, PlanFeature, SandboxClock, SandboxEngine

from .conftest import SEED


def test_demo_engine_has_customers_for_every_consumption_model() -> None:
    engine = SandboxEngine.demo()
    assert {"cus_free", "cus_pro", "cus_team", "cus_wallet"} <= set(engine.customers)
    assert engine.balance("cus_pro", "messages") is not None
    assert engine.balance("cus_wallet", "sms") is not None
    assert engine.balance("cus_pro", "image") is not None


@pytest.mark.parametrize("as_type", [str, Path])
def test_seed_loads_from_a_json_file(tmp_path: Path, as_type: type) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED))
    engine = SandboxEngine.from_seed(as_type(path))
    assert set(engine.customers) == {c["id"] for c in SEED["customers"]}
    assert engine.clock.frozen


def test_seed_api_keys_replace_the_default() -> None:
    engine = SandboxEngine.from_seed({**SEED, "api_keys": ["sk_test_mine"]})
    assert engine.api_keys == ["sk_test_mine"]


@pytest.mark.parametrize(
    "broken",
    [
        {"customerz": []},
        {"features": [{"id": "x", "kind": "metered"}]},
        {
            "features": [{"id": "x"}],
            "plans": [{"id": "p", "features": [{"feature_id": "x", "interval": "fortnight"}]}],
        },
        {"features": [{"id": "c", "type": "credit_system", "credit_schema": {"x": 0}}]},
        {"plans": [{"id": "p", "features": [{"feature_id": "missing"}]}]},
    ],
)
def test_a_seed_with_a_mistake_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError)):
        SandboxEngine.from_seed(broken)


def test_the_python_api_builds_the_same_thing_as_a_seed() -> None:
    engine = (
        SandboxEngine(clock=SandboxClock(1_767_225_600, frozen=True))
        .add_feature("messages", "Messages")
        .add_plan("basic", "Basic", features=[PlanFeature("messages", included=Decimal(10))])
        .add_plan("plus", features=[{"feature_id": "messages", "included": 20}])
        .add_customer("cus_1", plans=["basic"])
        .track("cus_1", "messages", 4)
    )
    balance = engine.balance("cus_1", "messages")
    assert balance is not None
    assert (balance["granted"], balance["remaining"]) == (10, 6)


def test_demo_seed_is_plain_json() -> None:
    assert json.loads(json.dumps(DEMO_SEED)) == DEMO_SEED


def test_clock_advances_sets_and_freezes() -> None:
    clock = SandboxClock(1000.0, frozen=True)
    assert clock.now_ms() == 1_000_000
    clock.advance(1.5)
    assert clock.time() == 1001.5
    clock.set(2000)
    assert clock.now_ms() == 2_000_000
    running = SandboxClock(now=lambda: 50.0)
    running.advance(10)
    assert running.time() == 60.0
    running.freeze()
    running.unfreeze()
    assert running.time() == 60.0
