"""Shared fixtures: canned bodies, a fake clock, and a harness that runs each test on both clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, Callable

import httpx
import pytest

from meterly import AsyncMeterly, Meterly
from meterly.models.checkresponse import BALANCE_EXAMPLE

API_KEY = "sk_test_0123456789abcdef"
BASE = "https://api.meterly.dev"
CHECK_URL = f"{BASE}/v1/balances.check"
USAGE_URL = f"{BASE}/v1/usage/check"

BALANCE = BALANCE_EXAMPLE  # the seed page's example balance
CHECK_BODY: dict[str, Any] = {"allowed": True, "customer_id": "cus_123", "balance": BALANCE}
USAGE_DATA: dict[str, Any] = {
    "allowed": True,
    "consumptionModel": "metered",
    "featureCode": "api_calls",
    "quantity": 3,
    "current": 10,
    "remaining": 90,
    "included": 100,
    "unlimited": False,
    "object": "usage_check",
    "livemode": False,
}
USAGE_BODY: dict[str, Any] = {"success": True, "data": USAGE_DATA}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-request-id": "req_test", **(headers or {})},
    )


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


Handler = Callable[[httpx.Request], httpx.Response]


class Harness:
    """One SDK client, sync or async, answered by `handler` through an injected MockTransport.

    `check(...)` and `usage(...)` call the operations and return their result the same way for both
    kinds of client, so one test specifies a behaviour of both.
    """

    def __init__(self, mode: str, handler: Handler, clock: FakeClock | None, **kwargs: Any) -> None:
        self.mode = mode
        self.requests: list[httpx.Request] = []
        self.clock = clock

        def recording(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        transport = httpx.MockTransport(recording)
        kwargs.setdefault("api_key", API_KEY)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: Meterly | AsyncMeterly
        if mode == "sync":
            self.client = Meterly(client=httpx.Client(transport=transport), **kwargs)
        else:
            self.loop = asyncio.new_event_loop()
            self.client = AsyncMeterly(client=httpx.AsyncClient(transport=transport), **kwargs)
        if clock is not None:
            self.client._pipeline.clock = clock.monotonic
            self.client._sleep = clock.sleep if mode == "sync" else clock.async_sleep  # type: ignore[assignment]
        self.client._pipeline.random = lambda: 0.5

    def _run(self, result: Any) -> Any:
        if self.loop is None:
            return result
        return self.loop.run_until_complete(result)

    def call(self, sdk_call: str, **kwargs: Any) -> Any:
        """Call `client.<resource>.<method>` (`sdk_call="usage.check"`) and return its result, awaited
        on the harness's loop for the async client."""
        target: Any = self.client
        for name in sdk_call.split("."):  # also "usage.with_raw_response.track"
            target = getattr(target, name)
        return self._run(target(**kwargs))

    def check(self, **kwargs: Any) -> Any:
        """balances.check for cus_123 and messages unless the test says otherwise."""
        kwargs.setdefault("customer_id", "cus_123")
        kwargs.setdefault("feature_id", "messages")
        return self.call("balances.check", **kwargs)

    def usage(self, **kwargs: Any) -> Any:
        """usage.check for cus_123 and api_calls unless the test says otherwise."""
        kwargs.setdefault("customer_id", "cus_123")
        kwargs.setdefault("feature_code", "api_calls")
        return self.call("usage.check", **kwargs)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(mode: str, clock: FakeClock) -> Iterator[Callable[..., Harness]]:
    """`make(handler, **client_kwargs)` builds a Harness of the parametrized kind with a fake clock."""
    made: list[Harness] = []

    def factory(handler: Handler, **kwargs: Any) -> Harness:
        harness = Harness(mode, handler, clock, **kwargs)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


def canned_answer(path: str, content: bytes) -> dict[str, Any]:
    """The canned success body for a request to `path` with body `content`, echoing the request's ids
    as the service does: the SDK refuses an answer that echoes another request's (API.md "Answers
    belong to their requests")."""
    try:
        sent = json.loads(content)
    except ValueError:
        sent = None
    sent = sent if isinstance(sent, dict) else {}
    if path.endswith("/usage/check"):
        code = sent.get("featureCode")
        if not isinstance(code, str):
            return USAGE_BODY
        return {**USAGE_BODY, "data": {**USAGE_DATA, "featureCode": code}}
    echoed = {key: sent[key] for key in ("customer_id", "entity_id") if isinstance(sent.get(key), str)}
    return {**CHECK_BODY, **echoed}


def ok_check(request: httpx.Request) -> httpx.Response:
    """The canned check answer, echoing the request's customer and entity."""
    return json_response(200, canned_answer("/v1/balances.check", request.content))


def ok_usage(request: httpx.Request) -> httpx.Response:
    """The canned usage.check answer, echoing the request's feature code."""
    return json_response(200, canned_answer("/v1/usage/check", request.content))


def sequence(*responses: httpx.Response | Exception) -> Handler:
    """A handler answering with each response (or raising each exception) in turn, the last forever."""
    items = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        return httpx.Response(item.status_code, content=item.content, headers=item.headers)

    return handler


def ok_any(request: httpx.Request) -> httpx.Response:
    """Answers each operation with its canned success body."""
    return ok_usage(request) if request.url.path.endswith("/usage/check") else ok_check(request)
