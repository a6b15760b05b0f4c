"""The world holds customers, features, plans and balances, and knows nothing of HTTP."""

from __future__ import annotations

import pytest

from meterly.sandbox import SandboxClock
from meterly.sandbox._world import Missing, World

START_MS = 1_767_225_600_000


def small_world() -> World:
    return (
        World(SandboxClock(START_MS / 1000, frozen=True))
        .add_feature("messages")
        .add_plan("basic", features=[{"feature_id": "messages", "included": 10}])
        .add_customer("cus_1", plans=["basic"])
    )


def test_builders_chain_and_balance_reads_what_they_built() -> None:
    world = small_world().track("cus_1", "messages", 4)
    balance = world.balance("cus_1", "messages")
    assert balance is not None
    assert (balance["granted"], balance["usage"], balance["remaining"]) == (10, 4, 6)
    assert "rollovers" not in balance


@pytest.mark.parametrize(
    ("lookup", "kind"),
    [
        (lambda w: w.customer("cus_nobody"), "customer"),
        (lambda w: w.feature("teleport"), "feature"),
        (lambda w: w.entity(w.customer("cus_1"), "seat_z"), "entity"),
    ],
)
def test_what_the_world_does_not_hold_is_missing_a_key_error_naming_it(lookup: object, kind: str) -> None:
    world = small_world()
    with pytest.raises(Missing) as caught:
        lookup(world)  # type: ignore[operator]
    assert isinstance(caught.value, KeyError)
    assert caught.value.kind == kind


def test_ids_are_unique_in_a_world() -> None:
    world = small_world()
    assert world.next_id("evt") != world.next_id("evt")
