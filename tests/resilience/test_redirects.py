"""No key ever reaches another address through a redirect, on any engine, with any injected client.

httpx's `follow_redirects=True` strips only `Authorization` on a cross-origin redirect, so `x-api-key`
(usage.check's header) would travel on to wherever a 307 points; aiohttp follows redirects by default.
The SDK follows none: a 3xx is an `errors.APIError` naming where it pointed. Two real loopback servers
on different ports (different origins) prove it: the second one never hears from the SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors, models

from ..loopback import Answer, LoopbackServer, Received, serve

BEARER = "sk_live_BEARER_c0ffee0123456789"
HEADER = "sk_live_HEADER_feedface98765432"
SECURITY = models.Security(bearer_auth=BEARER, api_key_auth=HEADER)


@pytest.fixture
def elsewhere() -> Iterator[LoopbackServer]:
    """The other origin: it records whatever reaches it and answers 200."""
    with serve(lambda received: (200, {"content-type": "application/json"}, b"{}")) as server:
        yield server


def redirecting(target: str, status: int = 307) -> Any:
    """A server answering every request with a redirect to `target` + the same path."""

    def respond(received: Received) -> Answer:
        return status, {"location": target + received.path + "?token=abc"}, b""

    return serve(respond)


def calls(sdk: Any) -> list[Any]:
    return [
        lambda: sdk.balances.check(customer_id="c", feature_id="f"),
        lambda: sdk.usage.check(customer_id="c", feature_code="f"),
        lambda: sdk.usage.track(customer_id="c", feature_code="f"),
    ]


def run_sync(url: str, client: Any, backend: str = "httpx") -> list[BaseException]:
    raised: list[BaseException] = []
    engine: Any = backend
    with Meterly(security=SECURITY, server_url=url, client=client, http_backend=engine) as sdk:
        for call in calls(sdk):
            with pytest.raises(errors.APIError) as caught:
                call()
            raised.append(caught.value)
    return raised


def run_async(url: str, backend: str, injected: bool) -> list[BaseException]:
    async def run() -> list[BaseException]:
        client: Any = None
        if injected and backend == "httpx":
            client = httpx.AsyncClient(follow_redirects=True)
        elif injected and backend == "httpx2":
            import httpx2

            client = httpx2.AsyncClient(follow_redirects=True)
        elif injected:
            import aiohttp

            client = aiohttp.ClientSession()  # follows redirects by default
        raised: list[BaseException] = []
        sdk = AsyncMeterly(security=SECURITY, server_url=url, client=client, http_backend=backend)  # type: ignore[arg-type]
        async with sdk:
            for call in calls(sdk):
                with pytest.raises(errors.APIError) as caught:
                    await call()
                raised.append(caught.value)
        if client is not None:
            await (client.close() if backend == "aiohttp" else client.aclose())
        return raised

    return asyncio.run(run())


ENGINES = [
    pytest.param("sync", True, id="sync-injected-follow_redirects"),
    pytest.param("sync", False, id="sync-owned"),
    pytest.param("httpx", True, id="httpx-injected-follow_redirects"),
    pytest.param("httpx", False, id="httpx-owned"),
    pytest.param("sync-httpx2", True, id="sync-httpx2-injected-follow_redirects"),
    pytest.param("sync-httpx2", False, id="sync-httpx2-owned"),
    pytest.param("sync-pyreqwest", False, id="sync-pyreqwest-owned"),
    pytest.param("httpx2", True, id="httpx2-injected-follow_redirects"),
    pytest.param("httpx2", False, id="httpx2-owned"),
    pytest.param("pyreqwest", False, id="pyreqwest-owned"),
    pytest.param("aiohttp", True, id="aiohttp-injected"),
    pytest.param("aiohttp", False, id="aiohttp-owned"),
]


@pytest.mark.parametrize(("engine", "injected"), ENGINES)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_never_carries_a_key_there(
    engine: str, injected: bool, status: int, elsewhere: LoopbackServer
) -> None:
    package = engine.rpartition("-")[2]
    if package not in ("sync", "httpx"):
        pytest.importorskip(package)
    with redirecting(elsewhere.url, status) as origin:
        if engine == "sync-httpx2":
            import httpx2

            client2 = httpx2.Client(follow_redirects=True) if injected else None
            raised = run_sync(origin.url, client2, "httpx2")
            if client2 is not None:
                client2.close()
        elif engine == "sync-pyreqwest":
            raised = run_sync(origin.url, None, "pyreqwest")
        elif engine == "sync":
            client = httpx.Client(follow_redirects=True) if injected else None
            raised = run_sync(origin.url, client)
            if client is not None:
                client.close()
        else:
            raised = run_async(origin.url, engine, injected)
    assert len(origin.received) == 3  # each call reached the server it was given, once
    assert elsewhere.received == []  # and nothing, key or not, went on to the other origin
    for error in raised:
        assert isinstance(error, errors.APIError)
        assert error.status_code == status
        assert "not followed" in error.message
        assert elsewhere.url in error.message  # says where it pointed...
        assert "token=abc" not in error.message  # ...without the query
        assert BEARER not in str(error)
        assert HEADER not in str(error)


def test_a_redirect_to_the_same_origin_is_not_followed_either() -> None:
    def respond(received: Received) -> Answer:
        if received.path.startswith("/moved"):
            return 200, {"content-type": "application/json"}, b"{}"
        return 307, {"location": "/moved" + received.path}, b""

    client = httpx.Client(follow_redirects=True)
    with serve(respond) as server:
        sdk = Meterly(security=SECURITY, server_url=server.url, client=client)
        with pytest.raises(errors.APIError) as caught:
            sdk.usage.check(customer_id="c", feature_code="f")
        assert [r.path for r in server.received] == ["/v1/usage/check"]
    assert caught.value.status_code == 307
    assert f"{server.url}/moved/v1/usage/check" in caught.value.message
    assert "point server_url at the final address" in caught.value.message
    client.close()
