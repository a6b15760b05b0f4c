"""The httpx and httpx2 engines hand a request they built themselves straight to an injected client's
transport only while that leaves out nothing the client's own `send` would do: its default headers,
query parameters, cookies (sent and kept), event hooks, auth, mounts, a subclass's own `send`, and the
library's request log all still apply, and the request is the one the client's `build_request` makes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors

from ..conftest import API_KEY, CHECK_BODY

LIBRARIES = ["httpx", "httpx2"]
SERVER = "https://api.meterly.test"


def library(name: str) -> Any:
    if name == "httpx2":
        return pytest.importorskip("httpx2")
    return httpx


class Recorder:
    """A `MockTransport` handler that keeps each request and answers a check."""

    def __init__(self, lib: Any, headers: Any = ()) -> None:
        self.lib = lib
        self.requests: List[Any] = []
        self.headers = list(headers)

    def __call__(self, request: Any) -> Any:
        request.read()
        self.requests.append(request)
        return self.lib.Response(200, json=CHECK_BODY, headers=self.headers)


def check(client: Any) -> Any:
    return client.balances.check(customer_id="cus_123", feature_id="messages")


def sdk(client: Any) -> Meterly:
    return Meterly(api_key=API_KEY, server_url=SERVER, client=client)


def wire_headers(request: Any) -> List[tuple[str, str]]:
    """A request's headers as sent, names folded, the call's own idempotency key left out."""
    return sorted(
        (name.lower(), value)
        for name, value in request.headers.multi_items()
        if name.lower() != "idempotency-key"
    )


@pytest.mark.parametrize("name", LIBRARIES)
def test_the_request_is_the_one_the_clients_own_send_path_makes(name: str) -> None:
    lib = library(name)
    direct, through = Recorder(lib), Recorder(lib)
    defaults = {"x-team": "blue", "user-agent": "their-app/1.0", "accept": "text/plain"}
    plain = lib.Client(transport=lib.MockTransport(direct), headers=defaults)
    # An event hook makes the engine send through the client's own `build_request` and `send`.
    hooked = lib.Client(
        transport=lib.MockTransport(through), headers=defaults, event_hooks={"request": [lambda r: None]}
    )
    check(sdk(plain))
    check(sdk(hooked))
    sent, expected = direct.requests[0], through.requests[0]
    assert wire_headers(sent) == wire_headers(expected)
    assert str(sent.url) == str(expected.url) == f"{SERVER}/v1/balances.check"
    assert sent.content == expected.content
    assert sent.headers["content-length"] == str(len(sent.content))
    assert sent.headers["x-team"] == "blue"
    assert sent.headers["user-agent"].startswith("meterly-python/")  # the call's headers win, as in httpx
    assert len(sent.headers["idempotency-key"]) >= 16
    assert sent.extensions["timeout"] == expected.extensions["timeout"]


@pytest.mark.parametrize("name", LIBRARIES)
def test_every_call_carries_its_own_idempotency_key(name: str) -> None:
    lib = library(name)
    recorder = Recorder(lib)
    client = sdk(lib.Client(transport=lib.MockTransport(recorder)))
    check(client)
    check(client)
    client.balances.check(customer_id="cus_123", feature_id="messages", idempotency_key="key-1")
    keys = [request.headers.get_list("idempotency-key") for request in recorder.requests]
    assert all(len(key) == 1 for key in keys)
    assert len({key[0] for key in keys}) == 3
    assert keys[2] == ["key-1"]


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_clients_later_header_change_applies_to_the_next_call(name: str) -> None:
    lib = library(name)
    recorder = Recorder(lib)
    injected = lib.Client(transport=lib.MockTransport(recorder))
    client = sdk(injected)
    check(client)
    injected.headers["x-tenant"] = "t-1"
    check(client)
    assert "x-tenant" not in recorder.requests[0].headers
    assert recorder.requests[1].headers["x-tenant"] == "t-1"


@pytest.mark.parametrize("name", LIBRARIES)
def test_query_parameters_cookies_and_a_host_header_of_the_client_still_apply(name: str) -> None:
    lib = library(name)
    recorder = Recorder(lib)
    with_params = lib.Client(transport=lib.MockTransport(recorder), params={"region": "eu"})
    check(sdk(with_params))
    assert recorder.requests[-1].url.params["region"] == "eu"
    with_cookie = lib.Client(transport=lib.MockTransport(recorder))
    with_cookie.cookies.set("session", "s-1", domain="api.meterly.test")
    check(sdk(with_cookie))
    assert recorder.requests[-1].headers["cookie"] == "session=s-1"
    with_host = lib.Client(transport=lib.MockTransport(recorder), headers={"host": "edge.internal"})
    check(sdk(with_host))
    assert recorder.requests[-1].headers.get_list("host") == ["edge.internal"]


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_cookie_the_service_sets_is_kept_by_the_injected_client(name: str) -> None:
    lib = library(name)
    recorder = Recorder(lib, headers=[("set-cookie", "affinity=node-7; Path=/")])
    injected = lib.Client(transport=lib.MockTransport(recorder))
    client = sdk(injected)
    check(client)
    assert injected.cookies.get("affinity") == "node-7"
    check(client)
    assert recorder.requests[1].headers["cookie"] == "affinity=node-7"


@pytest.mark.parametrize("name", LIBRARIES)
def test_event_hooks_auth_and_mounts_of_the_client_apply(name: str) -> None:
    lib = library(name)
    seen: List[str] = []
    recorder, mounted = Recorder(lib), Recorder(lib)
    hooked = lib.Client(
        transport=lib.MockTransport(recorder),
        event_hooks={
            "request": [lambda r: seen.append("request")],
            "response": [lambda r: seen.append("response")],
        },
    )
    check(sdk(hooked))
    assert seen == ["request", "response"]

    def auth_flow(request: Any) -> Any:
        request.headers["x-signed"] = "yes"
        return request

    authed = lib.Client(transport=lib.MockTransport(recorder), auth=auth_flow)
    check(sdk(authed))
    assert recorder.requests[-1].headers["x-signed"] == "yes"
    with_mount = lib.Client(
        transport=lib.MockTransport(recorder), mounts={SERVER: lib.MockTransport(mounted)}
    )
    check(sdk(with_mount))
    assert len(mounted.requests) == 1


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_subclass_with_its_own_send_is_sent_through_it(name: str) -> None:
    lib = library(name)
    recorder = Recorder(lib)
    sent: List[str] = []

    class Traced(lib.Client):  # type: ignore[name-defined,misc]
        def send(self, request: Any, **kwargs: Any) -> Any:
            sent.append(str(request.url))
            return super().send(request, **kwargs)

    check(sdk(Traced(transport=lib.MockTransport(recorder))))
    assert sent == [f"{SERVER}/v1/balances.check"]


@pytest.mark.parametrize("name", LIBRARIES)
def test_the_librarys_request_log_is_written_when_it_is_on(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    lib = library(name)
    client = sdk(lib.Client(transport=lib.MockTransport(Recorder(lib))))
    with caplog.at_level(logging.INFO, logger=name):
        check(client)
    assert [
        r.getMessage() for r in caplog.records if r.name == name and r.getMessage().startswith("HTTP Request")
    ]


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_closed_injected_client_is_refused_by_its_own_send(name: str) -> None:
    lib = library(name)
    recorder = Recorder(lib)
    injected = lib.Client(transport=lib.MockTransport(recorder))
    client = sdk(injected)
    check(client)
    injected.close()
    with pytest.raises(RuntimeError, match="client has been closed"):
        check(client)
    assert len(recorder.requests) == 1


def test_the_raw_response_has_its_request_and_elapsed_time() -> None:
    recorder = Recorder(httpx)
    client = sdk(httpx.Client(transport=httpx.MockTransport(recorder)))
    raw = client.balances.with_raw_response.check(customer_id="cus_123", feature_id="messages")
    assert raw.http_response.request.url == httpx.URL(f"{SERVER}/v1/balances.check")
    assert raw.http_response.elapsed.total_seconds() >= 0


def test_a_transport_failure_names_its_request() -> None:
    attempts: List[Any] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("refused")

    client = Meterly(
        api_key=API_KEY, server_url=SERVER, client=httpx.Client(transport=httpx.MockTransport(refuse))
    )
    with pytest.raises(errors.MeterlyError) as caught:
        check(client)
    assert attempts
    cause: Any = caught.value
    while cause is not None and not isinstance(cause, httpx.ConnectError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None
    assert cause.request is attempts[-1]


@pytest.mark.parametrize("name", LIBRARIES)
def test_async_clients_are_handed_over_alike(name: str) -> None:
    lib = library(name)
    direct, through = Recorder(lib), Recorder(lib)

    async def hook(request: Any) -> None:
        return None

    async def main() -> None:
        plain = lib.AsyncClient(transport=lib.MockTransport(direct), headers={"x-team": "blue"})
        hooked = lib.AsyncClient(
            transport=lib.MockTransport(through), headers={"x-team": "blue"}, event_hooks={"request": [hook]}
        )
        for injected in (plain, hooked):
            client = AsyncMeterly(api_key=API_KEY, server_url=SERVER, client=injected)
            result = await client.balances.check(customer_id="cus_123", feature_id="messages")
            assert result.allowed in (True, False)

    asyncio.run(main())
    assert wire_headers(direct.requests[0]) == wire_headers(through.requests[0])
