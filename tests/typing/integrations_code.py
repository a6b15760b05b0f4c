"""Integration code as a user writes it, with the types a strict type checker must infer for it.

`make test` runs mypy --strict and pyright (strict) on this file; `tests/integrations/test_typing.py`
runs it, so the code here is real, not only well-typed.
"""

from __future__ import annotations

from typing import Dict

from django.http import HttpRequest, HttpResponse, JsonResponse
from fastapi import FastAPI
from typing_extensions import assert_type

from meterly import AsyncMeterly, Meterly, models
from meterly.integrations.django import feature_check, get_async_client, get_client, require_feature
from meterly.integrations.fastapi import FeatureDenied, RequireFeature, meterly_lifespan
from meterly.integrations.otel import MeterlyInstrumentor
from meterly.sandbox import Sandbox
from meterly.testing import VirtualTime, without_waits


def customer_id() -> str:
    return "cus_pro"


def make_gate() -> RequireFeature:
    return RequireFeature("messages", customer=customer_id, send_event=True, status_code=402)


def make_app() -> FastAPI:
    return FastAPI(lifespan=meterly_lifespan(fail_open=True))


async def gate_directly(gate: RequireFeature, client: AsyncMeterly) -> bool:
    try:
        result = await gate(meterly=client, customer_id="cus_pro")
    except FeatureDenied as denied:
        assert_type(denied.result, models.CheckResponse)
        return False
    assert_type(result, models.CheckResponse)
    return result.allowed


@require_feature("messages", customer=lambda request: request.headers["x-customer-id"])
def django_view(request: HttpRequest) -> HttpResponse:
    check = feature_check(request)
    assert_type(check, models.CheckResponse)
    return JsonResponse({"allowed": check.allowed})


def django_clients() -> Dict[str, object]:
    sync: Meterly = get_client()
    aio: AsyncMeterly = get_async_client()
    return {"sync": sync, "async": aio}


def traced(client: Meterly) -> None:
    instrumentor = MeterlyInstrumentor(record_ids=False)
    instrumentor.instrument_client(client)
    instrumentor.uninstrument_client(client)


def no_waits(client: Meterly) -> VirtualTime:
    clock = without_waits(client)
    assert_type(clock.waits, list[float])
    return clock


def served() -> str:
    with Sandbox() as sandbox:
        return sandbox.url
