"""A 2xx that is not the service's JSON (a captive portal, a misrouted proxy), over a real socket.

Such an answer is a fault of the path to the service: fail-open answers it (`not_json`), and without
fail-open it raises `ResponseValidationError` keeping the body. JSON in the wrong shape is the service
speaking: it raises either way. Each case runs on the sync client and both async engines.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from meterly import AsyncMeterly, Meterly, errors, models
from tests.conftest import API_KEY
from tests.loopback import Answer, serve

BACKENDS = ["sync", "httpx", "aiohttp"]
PORTAL = (200, {"content-type": "text/html; charset=utf-8"}, b"<html>Sign in to the Wi-Fi</html>")
WRONG_SHAPE = (200, {"content-type": "application/json"}, json.dumps({"allowed": "maybe"}).encode())


def check_once(backend: str, answer: Answer, **options: Any) -> tuple[Any, int]:
    """One balances.check against a server that always gives `answer`; its result or error, and how
    many requests the server got."""
    with serve(lambda _received: answer) as server:
        options = {"api_key": API_KEY, "server_url": server.url, **options}
        outcome: Any
        if backend == "sync":
            with Meterly(**options) as sdk:
                try:
                    outcome = sdk.balances.check(customer_id="cus_pro", feature_id="messages")
                except errors.MeterlyError as exc:
                    outcome = exc
        else:

            async def run() -> Any:
                async with AsyncMeterly(http_backend=backend, **options) as sdk:  # type: ignore[arg-type]
                    try:
                        return await sdk.balances.check(customer_id="cus_pro", feature_id="messages")
                    except errors.MeterlyError as exc:
                        return exc

            outcome = asyncio.run(run())
        return outcome, len(server.received)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_captive_portals_200_is_answered_by_fail_open(backend: str) -> None:
    outcome, requests = check_once(backend, PORTAL, fail_open=True)
    assert isinstance(outcome, models.CheckResponse), outcome
    assert (outcome.allowed, outcome.is_fallback, outcome.fallback_reason) == (True, True, "not_json")
    assert requests == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_captive_portals_200_raises_response_validation_error_keeping_the_body(backend: str) -> None:
    outcome, requests = check_once(backend, PORTAL)
    assert isinstance(outcome, errors.ResponseValidationError), outcome
    assert outcome.status_code == 200
    assert outcome.body == PORTAL[2].decode()
    assert requests == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_services_json_in_the_wrong_shape_raises_even_with_fail_open(backend: str) -> None:
    outcome, requests = check_once(backend, WRONG_SHAPE, fail_open=True)
    assert isinstance(outcome, errors.ResponseValidationError), outcome
    assert outcome.body == WRONG_SHAPE[2].decode()
    assert requests == 1
