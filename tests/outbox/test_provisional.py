"""`client.outbox.balances`, written by hand until the registry declares Autumn's writes: each method
hands its operation and every argument to the outbox's queue, and the provisional bodies check them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Tuple

import pytest

from meterly import errors, models
from meterly.outbox import RETRY, ClientOutbox, Outbox, Outcome
from meterly.outbox._operations import BALANCES_TRACK, BALANCES_TRACK_TOKENS
from meterly.outbox._provisional import OutboxBalances

from .conftest import Recorder


class Queue:
    """An `Enqueue` that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Dict[str, Any]]] = []

    def __call__(self, operation_id: str, args: Dict[str, Any]) -> models.Queued:
        self.calls.append((operation_id, args))
        return models.Queued.model_construct(
            operation=operation_id, idempotency_key="k", enqueued_at=datetime.now(timezone.utc)
        )


def test_track_queues_balances_track_with_every_argument() -> None:
    queue = Queue()
    queued = OutboxBalances(queue).track(customer_id="cus_1", feature_id="messages", value=2, async_=True)
    assert queued.operation == BALANCES_TRACK
    [(operation, args)] = queue.calls
    assert operation == BALANCES_TRACK
    assert (args["customer_id"], args["feature_id"], args["value"], args["async_"]) == (
        "cus_1",
        "messages",
        2,
        True,
    )
    assert args["event_name"] is None
    assert args["idempotency_key"] is None
    assert "self" in args  # the method's locals: the queue drops what is not body


def test_track_tokens_queues_balances_track_tokens_with_its_key() -> None:
    queue = Queue()
    OutboxBalances(queue).track_tokens(
        customer_id="cus_1",
        model_id="openai/gpt-4o",
        input_tokens=10,
        output_tokens=3,
        idempotency_key="tok-1",
    )
    [(operation, args)] = queue.calls
    assert operation == BALANCES_TRACK_TOKENS
    assert (args["model_id"], args["input_tokens"], args["output_tokens"]) == ("openai/gpt-4o", 10, 3)
    assert args["idempotency_key"] == "tok-1"


def test_the_provisional_bodies_check_the_arguments_before_anything_is_queued() -> None:
    box = ClientOutbox(None, Outbox(close_timeout_ms=50), deliver=Recorder(Outcome(RETRY)))
    try:
        with pytest.raises(errors.RequestValidationError) as caught:
            box.balances.track(customer_id="", feature_id="messages")
        assert caught.value.param == "customer_id"
        with pytest.raises(errors.RequestValidationError) as caught:
            box.balances.track_tokens(customer_id="cus_1", model_id="m", input_tokens=-1, output_tokens=0)
        assert caught.value.param == "input_tokens"
        with pytest.raises(errors.RequestValidationError) as caught:
            box.balances.track(customer_id="cus_1", feature_id="messages", overage_behavior="spill")  # type: ignore[arg-type]
        assert caught.value.param == "overage_behavior"
        assert box.pending() == 0
    finally:
        box.close()
