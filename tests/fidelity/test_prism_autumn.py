"""Our SDK's Autumn operations against Prism serving Autumn's published request and answer shapes, with
request validation on.

The document below is written here from the facts of Autumn's published contract (OpenAPI 2.3.0,
useautumn/autumn `packages/openapi/openapi.yml`; 2.5.0 for batch_track's `idempotency_key` and the lock's
`overage_behavior`, as autumn-sdk 1.2.0 models them), as `shared/UPSTREAM.md` records them: which fields
each request and answer requires, their types, closed enums, the required `x-api-version` header and
Bearer auth. It is stricter than the published document in one way: a request body may hold no key
Autumn does not define (`additionalProperties: false`), so a key the SDK invented would be refused.
Prism, which nobody here wrote, judges each request and generates each answer, which must parse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest
import yaml

from meterly import AsyncMeterly, Meterly, models
from tests.fidelity.test_prism import KEY, PRISM_MS, RECORDING_CALLS, serve

pytestmark = pytest.mark.skipif(
    __import__("shutil").which("node") is None, reason="Prism needs node, which is not installed"
)


@pytest.fixture(autouse=True)
def _answers_that_echo_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prism generates each answer from the document's types, so it never echoes the request's ids (a
    generated `customer_id` is random text): the answer-to-request comparison (tested in tests/integrity
    and tests/unit) is off here, and these tests still prove that every request validates and every
    generated answer parses."""
    from meterly._registry import OPERATIONS

    for op in OPERATIONS:
        monkeypatch.setattr(op, "echoes", ())


NUMBER, STRING, BOOLEAN = {"type": "number"}, {"type": "string"}, {"type": "boolean"}
ID = {"type": "string", "minLength": 1}
COUNT = {"type": "integer", "minimum": 0}
OBJECT = {"type": "object", "additionalProperties": True}
OVERAGE = {"type": "string", "enum": ["cap", "overflow"]}


def nullable(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def closed(required: List[str], properties: Dict[str, Any]) -> Dict[str, Any]:
    """A request object: the keys Autumn defines and no other."""
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def answer(required: List[str], properties: Dict[str, Any]) -> Dict[str, Any]:
    """An answer object; Autumn may add keys."""
    return {"type": "object", "required": required, "properties": properties}


BALANCE = answer(
    [
        "feature_id",
        "granted",
        "remaining",
        "usage",
        "unlimited",
        "overage_allowed",
        "max_purchase",
        "next_reset_at",
    ],
    {
        "feature_id": STRING,
        "granted": NUMBER,
        "remaining": NUMBER,
        "usage": NUMBER,
        "unlimited": BOOLEAN,
        "overage_allowed": BOOLEAN,
        "max_purchase": nullable(NUMBER),
        "next_reset_at": nullable(NUMBER),
    },
)
FLAG = answer(
    ["id", "plan_id", "expires_at", "feature_id"],
    {"id": STRING, "plan_id": nullable(STRING), "expires_at": nullable(NUMBER), "feature_id": STRING},
)
TRACKED = answer(
    ["customer_id", "value", "balance"],
    {
        "customer_id": STRING,
        "value": NUMBER,
        "balance": nullable({"$ref": "#/components/schemas/Balance"}),
        "entity_id": STRING,
        "event_name": STRING,
        "balances": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Balance"}},
    },
)
SUCCESS = answer(["success"], {"success": BOOLEAN})
TRACK_FIELDS: Dict[str, Any] = {
    "customer_id": ID,
    "feature_id": ID,
    "event_name": ID,
    "entity_id": ID,
    "value": NUMBER,
    "properties": OBJECT,
    "timestamp": NUMBER,
    "overage_behavior": OVERAGE,
}
REQUESTS: Dict[str, Any] = {
    "/v1/balances.check": closed(
        ["customer_id", "feature_id"],
        {
            "customer_id": ID,
            "feature_id": ID,
            "entity_id": ID,
            "required_balance": NUMBER,
            "properties": OBJECT,
            "send_event": BOOLEAN,
            "with_preview": BOOLEAN,
            "lock": closed(
                ["lock_id", "enabled"],
                {
                    "lock_id": ID,
                    "enabled": {"const": True},
                    "expires_at": NUMBER,
                    "overage_behavior": {"type": "string", "enum": ["reject", "cap", "overflow"]},
                },
            ),
        },
    ),
    "/v1/balances.track": closed(["customer_id"], {**TRACK_FIELDS, "async": BOOLEAN}),
    "/v1/balances.track_tokens": closed(
        ["customer_id", "model_id", "input_tokens", "output_tokens"],
        {
            "customer_id": ID,
            "model_id": ID,
            "input_tokens": COUNT,
            "output_tokens": COUNT,
            "cache_read_tokens": COUNT,
            "cache_write_tokens": COUNT,
            "audio_input_tokens": COUNT,
            "audio_output_tokens": COUNT,
            "reasoning_tokens": COUNT,
            "feature_id": ID,
            "entity_id": ID,
            "properties": OBJECT,
            "timestamp": NUMBER,
            "overage_behavior": OVERAGE,
            "async": BOOLEAN,
        },
    ),
    "/v1/balances.batch_track": {
        "type": "array",
        "minItems": 1,
        "maxItems": 1000,
        "items": closed(["customer_id"], {**TRACK_FIELDS, "idempotency_key": ID}),
    },
    "/v1/balances.finalize": closed(
        ["lock_id", "action"],
        {
            "lock_id": ID,
            "action": {"type": "string", "enum": ["confirm", "release"]},
            "override_value": NUMBER,
            "properties": OBJECT,
        },
    ),
}
ANSWERS: Dict[str, tuple[str, Dict[str, Any]]] = {
    "/v1/balances.check": (
        "200",
        answer(
            ["allowed", "customer_id", "balance", "flag"],
            {
                "allowed": BOOLEAN,
                "customer_id": STRING,
                "entity_id": STRING,
                "required_balance": NUMBER,
                "balance": nullable({"$ref": "#/components/schemas/Balance"}),
                "flag": nullable(FLAG),
            },
        ),
    ),
    "/v1/balances.track": ("200", TRACKED),
    "/v1/balances.track_tokens": ("200", TRACKED),
    "/v1/balances.batch_track": ("202", SUCCESS),
    "/v1/balances.finalize": ("200", SUCCESS),
}


def autumn_document() -> Dict[str, Any]:
    paths: Dict[str, Any] = {}
    for path, body in REQUESTS.items():
        status, returned = ANSWERS[path]
        paths[path] = {
            "post": {
                "operationId": path.rsplit(".", 1)[-1],
                "security": [{"bearerAuth": []}],
                "parameters": [{"name": "x-api-version", "in": "header", "required": True, "schema": STRING}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {
                    status: {"description": "OK", "content": {"application/json": {"schema": returned}}}
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Autumn (published shapes, as facts)", "version": "2.3.0"},
        "servers": [{"url": "https://api.useautumn.com"}],
        "paths": paths,
        "components": {
            "schemas": {"Balance": BALANCE},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


@pytest.fixture(scope="module")
def autumn_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("prism-autumn") / "autumn.yaml"
    path.write_text(yaml.safe_dump(autumn_document(), sort_keys=False), encoding="utf-8")
    yield from serve(path)


def test_prism_refuses_a_key_autumn_does_not_define(autumn_url: str) -> None:
    response = httpx.post(
        f"{autumn_url}/v1/balances.track",
        json={"customer_id": "cus_123", "feature_id": "messages", "async_": True},
        headers={"authorization": f"Bearer {KEY}", "x-api-version": "2.3.0"},
    )
    assert response.status_code == 422
    assert "async_" in response.text  # the violation, in the problem document Prism answers with


def test_our_recording_requests_fit_autumn_s_shapes_and_its_answers_parse(autumn_url: str) -> None:
    with Meterly(api_key=KEY, server_url=autumn_url, retry_config=None, timeout_ms=PRISM_MS) as client:
        for method, arguments, model in RECORDING_CALLS:
            raw = getattr(client.balances.with_raw_response, method)(**arguments)
            assert "sl-violations" not in raw.headers, (method, raw.headers.get("sl-violations"))
            assert raw.status_code in (200, 202), method
            assert isinstance(raw.parse(), model)


def test_our_async_recording_requests_fit_autumn_s_shapes(autumn_url: str) -> None:
    async def main() -> None:
        async with AsyncMeterly(
            api_key=KEY, server_url=autumn_url, retry_config=None, timeout_ms=PRISM_MS
        ) as client:
            for method, arguments, model in RECORDING_CALLS:
                assert isinstance(await getattr(client.balances, method)(**arguments), model)
            res = await client.balances.check(customer_id="cus_123", feature_id="messages")
            assert isinstance(res, models.CheckResponse)

    asyncio.run(main())
