"""Seeds: the JSON shape that describes a sandbox's keys, clock, features, plans and customers.

```json
{
  "api_keys": ["sk_test_sandbox"],
  "clock": {"now_ms": 1767225600000, "frozen": true},
  "features": [{"id": "messages", "name": "Messages", "type": "metered", "event_names": ["chat_message"]},
               {"id": "credits", "type": "credit_system", "credit_schema": {"messages": 0.5},
                "model_prices": {"openai/gpt-4o-mini": {"input": 150, "output": 600}}}],
  "plans": [{"id": "free", "name": "Free",
             "features": [{"feature_id": "messages", "included": 5, "interval": "month"}]}],
  "customers": [{"id": "cus_1", "plans": ["free"], "usage": {"messages": 3}}]
}
```
Every key but `id`/`feature_id` is optional; an unknown key is an error, so typos don't pass silently.
A feature's `event_names` are the events (`balances.track`'s `event_name`) that record usage of it; one
event may name several features. A credit system's `model_prices` price AI models' tokens for
`balances.track_tokens` and Commet's token fields on `usage.track`, in credits per million tokens of each
kind (`input`, `output`, `cache_read`, `cache_write`, `audio_input`, `audio_output`, `reasoning`); a
token count whose kind the model has no price for is refused (400 naming it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Mapping, Union, cast

from meterly.sandbox._state import checked_interval, known
from meterly.sandbox._world import World

_GRANT_KEYS = {
    "feature_id", "amount", "entity_id", "unlimited", "interval", "expires_at", "overage_allowed",
    "max_purchase",
}  # fmt: skip


def read_seed(data: Union[Mapping[str, Any], str, Path]) -> Dict[str, Any]:
    """The seed dict from a dict, or from the JSON file at a path."""
    if isinstance(data, (str, Path)):
        with open(data, encoding="utf-8") as file:
            loaded = json.load(file)
    else:
        loaded = dict(data)
    if not isinstance(loaded, dict):
        raise ValueError("a seed is a JSON object")
    loaded = cast(Dict[str, Any], loaded)
    known(loaded, {"api_keys", "clock", "features", "plans", "customers"}, "seed")
    return loaded


def apply_seed(world: World, seed: Mapping[str, Any]) -> None:
    """Add a seed's features, plans and customers to `world` (keys and clock are read by the engine)."""
    for f in seed.get("features", []):
        known(
            f,
            {"id", "name", "type", "credit_schema", "currency", "event_names", "model_prices"},
            f"feature {f.get('id')!r}",
        )
        world.add_feature(
            f["id"], f.get("name"), type=f.get("type", "metered"), credit_schema=f.get("credit_schema"),
            currency=f.get("currency"), event_names=f.get("event_names", ()),
            model_prices=f.get("model_prices"),
        )  # fmt: skip
    for p in seed.get("plans", []):
        known(p, {"id", "name", "features", "add_on"}, f"plan {p.get('id')!r}")
        world.add_plan(p["id"], p.get("name"), features=p.get("features", []), add_on=bool(p.get("add_on")))
    for c in seed.get("customers", []):
        where = f"customer {c.get('id')!r}"
        known(c, {"id", "name", "email", "plans", "entities", "grants", "usage", "entity_usage"}, where)
        world.add_customer(c["id"], c.get("name"), email=c.get("email"))
        for entity in c.get("entities", []):
            if isinstance(entity, str):
                world.add_entity(c["id"], entity)
            else:
                world.add_entity(c["id"], entity["id"], entity.get("name"))
        for plan in c.get("plans", []):
            if isinstance(plan, str):
                world.attach_plan(c["id"], plan)
            else:
                world.attach_plan(c["id"], plan["id"], started_at_ms=plan.get("started_at_ms"))
        for g in c.get("grants", []):
            known(g, _GRANT_KEYS, where + " grant")
            world.grant(
                c["id"],
                g["feature_id"],
                g.get("amount", 0),
                entity_id=g.get("entity_id"),
                unlimited=bool(g.get("unlimited", False)),
                interval=checked_interval(g.get("interval", "one_off"), where),
                expires_at=g.get("expires_at"),
                overage_allowed=bool(g.get("overage_allowed", False)),
                max_purchase=g.get("max_purchase"),
            )
        for feature_id, amount in c.get("usage", {}).items():
            world.track(c["id"], feature_id, amount)
        for entity_id, usage in c.get("entity_usage", {}).items():
            for feature_id, amount in usage.items():
                world.track(c["id"], feature_id, amount, entity_id=entity_id)


DEMO_SEED: Dict[str, Any] = {
    "features": [
        {"id": "messages", "name": "Messages", "type": "metered", "event_names": ["chat_message"]},
        {"id": "api_calls", "name": "API calls", "type": "metered"},
        {"id": "sso", "name": "Single sign-on", "type": "boolean"},
        {"id": "chat", "name": "Chat completions", "type": "metered", "event_names": ["chat_message"]},
        {"id": "image", "name": "Image generations", "type": "metered"},
        {
            "id": "ai_credits",
            "name": "AI credits",
            "type": "credit_system",
            "credit_schema": {"chat": 1, "image": 10},
            "model_prices": {
                "openai/gpt-4o-mini": {"input": 150, "output": 600, "cache_read": 75, "cache_write": 150}
            },
        },
        {"id": "sms", "name": "SMS", "type": "metered"},
        {
            "id": "wallet",
            "name": "Prepaid balance",
            "type": "credit_system",
            "credit_schema": {"sms": 0.05},
            "currency": "usd",
        },
    ],
    "plans": [
        {
            "id": "free",
            "name": "Free",
            "features": [{"feature_id": "messages", "included": 5, "interval": "month"}],
        },
        {
            "id": "pro",
            "name": "Pro",
            "features": [
                {
                    "feature_id": "messages",
                    "included": 100,
                    "interval": "month",
                    "rollover": {"max": 50, "duration": "month"},
                },
                {
                    "feature_id": "api_calls",
                    "included": 1000,
                    "interval": "month",
                    "overage_allowed": True,
                    "max_purchase": 10000,
                    "price": {"amount": 0.5, "billing_units": 1000},
                },
                {"feature_id": "ai_credits", "included": 500, "interval": "month"},
                {"feature_id": "sso"},
            ],
        },
        {
            "id": "team",
            "name": "Team",
            "features": [
                {"feature_id": "messages", "included": 50, "interval": "month", "per_entity": True},
                {"feature_id": "sso"},
            ],
        },
        {
            "id": "credits_topup",
            "name": "1,000 AI credits",
            "add_on": True,
            "features": [{"feature_id": "ai_credits", "prepaid": 1000}],
        },
    ],
    "customers": [
        {"id": "cus_free", "name": "Free Fiona", "plans": ["free"], "usage": {"messages": 3}},
        {
            "id": "cus_pro",
            "name": "Pro Pablo",
            "plans": ["pro", "credits_topup"],
            "usage": {"messages": 28, "api_calls": 990, "ai_credits": 480},
        },
        {
            "id": "cus_team",
            "name": "Team Tara",
            "plans": ["team"],
            "entities": [{"id": "seat_alice", "name": "Alice"}, {"id": "seat_bob", "name": "Bob"}],
            "entity_usage": {"seat_alice": {"messages": 49}},
        },
        {"id": "cus_wallet", "name": "Wallet Wes", "grants": [{"feature_id": "wallet", "amount": 1.0}]},
    ],
}
"""The demo data `SandboxEngine.demo()` and `python -m meterly.sandbox` start from."""
