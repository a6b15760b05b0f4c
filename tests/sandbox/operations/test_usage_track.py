"""usage.track in the sandbox: it deducts as a balances.check with send_event does, once per key."""

from __future__ import annotations

import pytest

from meterly import AsyncMeterly, Meterly, errors, models
from meterly.sandbox import SandboxEngine

from ..conftest import SEED, START_MS, post

EVENTS = "/v1/usage/events"
BASIC = {"customerId": "cus_basic", "featureCode": "messages"}


def remaining(engine: SandboxEngine, customer: str, feature: str) -> float:
    balance = engine.balance(customer, feature)
    assert balance is not None
    return float(balance["remaining"])


def test_a_metered_event_is_recorded_and_deducted(client: Meterly, engine: SandboxEngine) -> None:
    event = client.usage.track(customer_id="cus_basic", feature_code="messages", value=3, event_id="e1")
    assert (event.customer_id, event.feature_code, event.value, event.event_id) == (
        "cus_basic",
        "messages",
        3,
        "e1",
    )
    assert event.consumption is None  # plainly metered: nothing drawn from credits or a balance
    assert (event.object, event.livemode) == ("usage_event", False)
    assert event.id.startswith("evt_")
    assert remaining(engine, "cus_basic", "messages") == 7


@pytest.mark.parametrize(
    ("customer", "feature", "pool"), [("cus_basic", "messages", "messages"), ("cus_pro", "image", "credits")]
)
def test_it_deducts_as_a_check_with_send_event_does(
    client: Meterly, engine: SandboxEngine, customer: str, feature: str, pool: str
) -> None:
    client.usage.track(customer_id=customer, feature_code=feature, value=2)
    checked = SandboxEngine.from_seed(SEED)
    body = {"customer_id": customer, "feature_id": feature, "required_balance": 2, "send_event": True}
    assert post(checked, "/v1/balances.check", body).status == 200
    assert engine.balance(customer, pool) == checked.balance(customer, pool)
    assert engine.balance(customer, pool) != SandboxEngine.from_seed(SEED).balance(customer, pool)


def test_credits_answer_what_was_deducted_and_what_is_left(client: Meterly, engine: SandboxEngine) -> None:
    before = remaining(engine, "cus_pro", "credits")
    event = client.usage.track(customer_id="cus_pro", feature_code="image", value=2)
    assert event.consumption == models.UsageEventConsumption(
        model="credits", deducted=10, remaining=before - 10, blocked=False
    )
    assert remaining(engine, "cus_pro", "credits") == before - 10


def test_an_event_the_balance_does_not_cover_is_blocked_and_deducts_nothing(
    client: Meterly, engine: SandboxEngine
) -> None:
    event = client.usage.track(customer_id="cus_wallet", feature_code="sms", value=1000)
    assert event.consumption is not None
    assert (event.consumption.model, event.consumption.deducted, event.consumption.blocked) == (
        "balance",
        0,
        True,
    )
    assert remaining(engine, "cus_wallet", "wallet") == 1


def test_the_same_key_records_the_event_once(client: Meterly, engine: SandboxEngine) -> None:
    first = client.usage.track(customer_id="cus_basic", feature_code="messages", idempotency_key="once")
    again = client.usage.track(customer_id="cus_basic", feature_code="messages", idempotency_key="once")
    assert again == first
    assert remaining(engine, "cus_basic", "messages") == 9
    assert [call.replayed for call in engine.history] == [False, True]


def test_the_same_key_with_another_body_is_a_409(client: Meterly) -> None:
    client.usage.track(customer_id="cus_basic", feature_code="messages", idempotency_key="k")
    with pytest.raises(errors.ConflictError) as caught:
        client.usage.track(customer_id="cus_basic", feature_code="messages", value=2, idempotency_key="k")
    assert caught.value.code == "idempotency_key_reused"


def test_the_timestamp_and_properties_are_kept(client: Meterly) -> None:
    event = client.usage.track(
        customer_id="cus_basic",
        feature_code="messages",
        timestamp="2026-01-01T08:00:00Z",
        properties={"model": "gpt-5"},
    )
    assert event.ts == "2026-01-01T08:00:00Z"
    assert event.created_at == "2026-01-01T00:00:00.000Z"  # the sandbox's frozen clock: START_MS
    assert event.properties == [models.UsageEventProperty(property="model", value="gpt-5")]
    assert START_MS == 1_767_225_600_000


def test_an_unknown_customer_is_a_404_in_commet_s_shape(client: Meterly) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        client.usage.track(customer_id="cus_nobody", feature_code="messages")
    assert (caught.value.code, caught.value.param) == ("customer_not_found", "customerId")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"featureCode": "messages"}, "customerId"),
        ({"customerId": "cus_basic", "featureCode": "messages", "value": "3"}, "value"),
        ({"customerId": "cus_basic", "featureCode": "messages", "timestamp": "soon"}, "timestamp"),
        ({"customerId": "cus_basic", "featureCode": "messages", "properties": {"a": "b"}}, "properties"),
        (
            {"customerId": "cus_basic", "featureCode": "messages", "properties": [{"property": "a"}]},
            "properties",
        ),
    ],
)
def test_a_body_that_fails_validation_is_commet_s_validation_error(
    engine: SandboxEngine, body: dict[str, object], param: str
) -> None:
    answer = post(engine, EVENTS, body)
    assert answer.status == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("validation_error", param)
    assert error["details"][0]["field"] == param


def test_it_is_served_where_commet_s_own_client_posts(engine: SandboxEngine) -> None:
    answer = post(engine, "/api" + EVENTS, {"customerId": "cus_basic", "featureCode": "messages"})
    assert answer.status == 200
    assert answer.json()["data"]["featureCode"] == "messages"


def test_a_feature_held_per_seat_only_is_refused(client: Meterly) -> None:
    with pytest.raises(errors.BadRequestError) as caught:
        client.usage.track(customer_id="cus_team", feature_code="messages")
    assert "per entity (seat) only" in caught.value.message


async def test_the_async_client_tracks_too(aclient: AsyncMeterly, engine: SandboxEngine) -> None:
    event = await aclient.usage.track(customer_id="cus_basic", feature_code="messages", value=4)
    assert event.value == 4
    assert remaining(engine, "cus_basic", "messages") == 6
