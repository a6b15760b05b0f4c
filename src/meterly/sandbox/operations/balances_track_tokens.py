"""`balances.track_tokens` (Autumn): an AI model's tokens, priced per model by the credit system that
prices it (the seed's `model_prices`, credits per million tokens), deducted from that credit system. A
token count whose kind the model has no price for is a 400 naming it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, Union

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._state import TOKEN_KINDS, ZERO
from meterly.sandbox._world import World
from meterly.sandbox.operations import Reply
from meterly.sandbox.operations._body import Body, found
from meterly.sandbox.operations._tracking import answer, entity_of, record

MILLION = Decimal(1_000_000)


def handle(world: World, body: Body) -> Union[Dict[str, Any], Reply]:
    customer = found(body, "customer_id", world.customer)
    feature_id = body.optional_text("feature_id")
    if feature_id is not None:
        found(body, "feature_id", world.feature)
    model_id = body.text("model_id")
    pool = found(body, "model_id", lambda mid: world.model_pool(customer, mid, feature_id))
    entity_id = entity_of(world, customer, body)
    prices = pool.model_prices[model_id]
    credits = ZERO
    for kind in TOKEN_KINDS:
        tokens = body.get(f"{kind}_tokens")
        if tokens is None or tokens == 0:
            continue
        price = prices.get(kind)
        if price is None:
            key = body.key(f"{kind}_tokens")
            raise ProtocolError(400, INVALID, f"{key}: the model {model_id!r} has no {kind} price", key)
        credits += Decimal(tokens) * price / MILLION
    overflow = body.get("overage_behavior") == "overflow"
    source, made = record(world, customer, pool, credits, entity_id, overflow)
    queued = body.flag("async_")
    result = answer(customer, credits, entity_id, None, [source], made, queued)
    return Reply(202, result) if queued else result
