"""`aiohttp_compat` knows the installed aiohttp (this fails loudly on a release newer than every one it
was written against), sends the bytes `ClientSession.request` would send, and leaves to the session every
request that uses something its direct send skips: trace configs, middlewares, default headers, cookies,
...

On an older release (`make environments` runs aiohttp 3.10) every request goes through the session: the
tests of the direct send skip there, and the engine suites run on the session path."""

from __future__ import annotations

import asyncio
import inspect
import json
import warnings
from typing import Any, Callable, List

import pytest

aiohttp = pytest.importorskip("aiohttp")

from aiohttp.client_proto import ResponseHandler  # noqa: E402
from yarl import URL  # noqa: E402

from meterly import AsyncMeterly  # noqa: E402
from meterly._engines import aiohttp_compat  # noqa: E402
from meterly._engines.aiohttp_compat import Direct  # noqa: E402

from ...conftest import API_KEY, CHECK_BODY  # noqa: E402
from ...loopback import Answer, Received, serve  # noqa: E402

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


direct = pytest.mark.skipif(
    not aiohttp_compat.supported(),
    reason=f"aiohttp {aiohttp.__version__} sends through the session: no direct send to test",
)
"""Marks a test of the direct send, which only releases in `SUPPORTED_AIOHTTP` use."""


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


async def test_the_installed_aiohttp_is_known_or_older_and_sent_through_the_session() -> None:
    if aiohttp_compat.supported():
        return
    assert _release(aiohttp.__version__) < min(aiohttp_compat.SUPPORTED_AIOHTTP), (
        f"aiohttp {aiohttp.__version__} is newer than SUPPORTED_AIOHTTP {aiohttp_compat.SUPPORTED_AIOHTTP}: "
        "check the private attributes aiohttp_compat reads against it before adding it"
    )
    async with aiohttp.ClientSession() as session:
        assert Direct.of(session) is None


@pytest.mark.parametrize(
    ("version", "known"),
    [("3.14.0", True), ("3.14.5", True), ("3.14", True), ("3.13.2", False), ("4.0.0", False), ("x", False)],
)
def test_only_known_releases_are_sent_on_directly(version: str, known: bool) -> None:
    assert aiohttp_compat.supported(version) is known


async def test_on_an_unknown_release_every_request_is_sent_through_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aiohttp, "__version__", "3.99.0")
    with serve(ok) as server:
        async with aiohttp.ClientSession() as session:
            assert Direct.of(session) is None
            await check(session, server.url)
    assert len(server.received) == 1


@direct
async def test_a_plain_session_is_sent_on_directly() -> None:
    async with aiohttp.ClientSession() as session:
        assert Direct.of(session) is not None
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        assert Direct.of(session) is not None


class _Capture(asyncio.Transport):
    """Records what is written and answers each request with `ANSWER` at once."""

    def __init__(self, protocol: ResponseHandler, written: List[bytes]) -> None:
        super().__init__()
        self._protocol = protocol
        self._written = written
        self._closing = False

    def write(self, data: Any) -> None:
        self._written.append(bytes(data))
        joined = b"".join(self._written)
        head, _, body = joined.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        if b"\r\n\r\n" in joined and len(body) >= length:
            self._protocol.data_received(ANSWER)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._protocol.connection_lost(None)

    abort = close

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0


def capturing_session(written: List[bytes], **options: Any) -> Any:
    """A session whose every connection records into `written` (fresh connections only: force_close)."""

    class Connector(aiohttp.BaseConnector):
        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:
            protocol = ResponseHandler(asyncio.get_running_loop())
            protocol.connection_made(_Capture(protocol, written))
            return protocol

    return aiohttp.ClientSession(
        connector=Connector(force_close=options.pop("force_close", False)), **options
    )


HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "user-agent": "meterly-python/0",
    "Authorization": "Bearer sk_x",
    "idempotency-key": "k1",
}


@pytest.mark.parametrize(
    ("method", "url", "body", "headers", "force_close"),
    [
        ("POST", "https://api.example.com/v1/balances.check", b'{"a":1}', HEADERS, False),
        ("POST", "http://127.0.0.1:8123/v1/x?q=a%20b", b"", {"HOST": "other.example"}, False),
        ("GET", "http://api.example.com/v1/y", b"", {}, False),
        ("PUT", "http://api.example.com:8443/z", b"zz", {"Accept": "text/plain", "x-a": "1"}, True),
    ],
)
@direct
async def test_the_direct_send_writes_the_bytes_the_session_writes(
    method: str, url: str, body: bytes, headers: dict[str, str], force_close: bool
) -> None:
    by_session: List[bytes] = []
    direct_written: List[bytes] = []
    async with capturing_session(by_session, force_close=force_close) as session:
        response = await session.request(method, URL(url), data=body, headers=headers, allow_redirects=False)
        assert await response.read() == b"{}"
        response.release()
    async with capturing_session(direct_written, force_close=force_close) as session:
        direct = Direct.of(session)
        assert direct is not None
        route = direct.route(URL(url))
        assert route is not None
        status, content, raw_headers, _ = await direct.send(route, method, body, headers, 5.0)
    assert (status, content) == (200, b"{}")
    assert (b"content-type", b"application/json") in raw_headers
    assert b"".join(direct_written) == b"".join(by_session)


@direct
async def test_a_header_with_a_line_break_is_refused_as_the_session_refuses_it() -> None:
    async with capturing_session([]) as session:
        direct = Direct.of(session)
        assert direct is not None
        route = direct.route(URL("http://api.example.com/v1/x"))
        assert route is not None
        with pytest.raises(ValueError, match="control character"):
            await direct.send(route, "POST", b"", {"x-a": "1\r\nx-b: 2"}, 5.0)


def _trace() -> Any:
    return aiohttp.TraceConfig()


async def _middleware(request: Any, handler: Any) -> Any:
    return await handler(request)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # aiohttp discourages subclassing; some do

    class _Session(aiohttp.ClientSession):
        async def _request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            return await super()._request(*args, **kwargs)


class _Request(aiohttp.ClientRequest):
    pass


class _Response(aiohttp.ClientResponse):
    pass


class _OwnPool(aiohttp.TCPConnector):
    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        return await super().connect(req, traces, timeout)


SESSIONS_SENT_AS_THEY_ARE: dict[str, Callable[[], Any]] = {
    "trace configs": lambda: aiohttp.ClientSession(trace_configs=[_trace()]),
    "middlewares": lambda: aiohttp.ClientSession(middlewares=(_middleware,)),
    "default auth": lambda: aiohttp.ClientSession(auth=aiohttp.BasicAuth("u", "p")),
    "default proxy": lambda: aiohttp.ClientSession(proxy="http://127.0.0.1:9"),
    "default proxy auth": lambda: aiohttp.ClientSession(proxy_auth=aiohttp.BasicAuth("u", "p")),
    "trust_env": lambda: aiohttp.ClientSession(trust_env=True),
    "base url": lambda: aiohttp.ClientSession(base_url="http://127.0.0.1:9/"),
    "skipped auto headers": lambda: aiohttp.ClientSession(skip_auto_headers=["User-Agent"]),
    "raise_for_status": lambda: aiohttp.ClientSession(raise_for_status=True),
    "HTTP/1.0": lambda: aiohttp.ClientSession(version=aiohttp.HttpVersion10),
    "request class": lambda: aiohttp.ClientSession(request_class=_Request),
    "response class": lambda: aiohttp.ClientSession(response_class=_Response),
    "a subclass": lambda: _Session(),
    "a connector's own connect": lambda: aiohttp.ClientSession(connector=_OwnPool()),
}


@pytest.mark.parametrize("made", SESSIONS_SENT_AS_THEY_ARE.values(), ids=list(SESSIONS_SENT_AS_THEY_ARE))
@direct
async def test_a_session_using_what_the_direct_send_skips_is_sent_through_itself(
    made: Callable[[], Any],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # `auth=` warns of its deprecation
        session = made()
    try:
        assert Direct.of(session) is None
    finally:
        await session.close()


@direct
async def test_default_headers_cookies_or_a_closed_session_send_through_the_session() -> None:
    url = URL("http://api.example.com/v1/x")
    session = aiohttp.ClientSession()
    direct = Direct.of(session)
    assert direct is not None
    assert direct.route(url) is not None
    session.headers["x-team"] = "billing"
    assert direct.route(url) is None
    del session.headers["x-team"]
    session.cookie_jar.update_cookies({"sid": "1"}, url)
    assert direct.route(url) is None
    session.cookie_jar.clear()
    assert direct.route(url) is not None
    await session.close()
    assert direct.route(url) is None
    assert Direct.of(session) is None


@pytest.mark.parametrize(
    "url", ["/v1/relative", "ftp://api.example.com/x", "http://u:p@api.example.com/x", "http://a.example/x#f"]
)
@direct
async def test_a_url_the_session_would_treat_specially_is_sent_through_it(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        direct = Direct.of(session)
        assert direct is not None
        assert direct.route(URL(url)) is None


# Through the SDK, on a real socket: what a session that is not plain does still happens.


def ok(received: Received) -> Answer:
    return 200, {"content-type": "application/json", "x-request-id": "req_c"}, json.dumps(CHECK_BODY).encode()


async def check(session: Any, url: str) -> None:
    sdk = AsyncMeterly(api_key=API_KEY, server_url=url, client=session)
    assert (await sdk.balances.check(customer_id="cus_123", feature_id="messages")).allowed


async def test_an_injected_sessions_trace_configs_see_the_sdks_request() -> None:
    seen: List[str] = []

    async def on_start(session: Any, context: Any, params: Any) -> None:
        seen.append(params.method)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    with serve(ok) as server:
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            await check(session, server.url)
    assert seen == ["POST"]


@pytest.mark.skipif(
    "middlewares" not in inspect.signature(aiohttp.ClientSession).parameters,
    reason=f"aiohttp {aiohttp.__version__} has no client middlewares (3.12 added them)",
)
async def test_an_injected_sessions_middleware_runs_on_the_sdks_request() -> None:
    async def tag(request: Any, handler: Any) -> Any:
        request.headers["x-tagged"] = "yes"
        return await handler(request)

    with serve(ok) as server:
        async with aiohttp.ClientSession(middlewares=(tag,)) as session:
            await check(session, server.url)
    assert server.received[0].headers["x-tagged"] == "yes"


async def test_an_injected_sessions_default_headers_and_cookies_are_sent() -> None:
    with serve(ok) as server:
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies for an IP address (the loopback server)
        async with aiohttp.ClientSession(headers={"x-team": "billing"}, cookie_jar=jar) as session:
            session.cookie_jar.update_cookies({"sid": "s1"}, URL(server.url))
            await check(session, server.url)
    (received,) = server.received
    assert received.headers["x-team"] == "billing"
    assert received.headers["cookie"] == "sid=s1"


@direct
async def test_a_cookie_set_by_a_direct_answer_is_kept_and_sent_next_time() -> None:
    def sets_cookie(received: Received) -> Answer:
        status, headers, body = ok(received)
        return status, {**headers, "set-cookie": "lb=node2; Path=/"}, body

    with serve(sets_cookie) as server:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            assert Direct.of(session) is not None
            await check(session, server.url)
            assert [cookie.value for cookie in session.cookie_jar] == ["node2"]
            await check(session, server.url)
    first, second = server.received
    assert "cookie" not in first.headers
    assert second.headers["cookie"] == "lb=node2"


@pytest.mark.parametrize("stage", ["connect", "answer"])
@direct
async def test_connecting_and_the_answer_are_bounded_by_the_attempts_deadline(stage: str) -> None:
    class Silent(_Capture):
        def write(self, data: Any) -> None:
            pass

    class Connector(aiohttp.BaseConnector):
        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:
            if stage == "connect":
                await asyncio.sleep(30)
            protocol = ResponseHandler(asyncio.get_running_loop())
            protocol.connection_made(Silent(protocol, []))
            return protocol

    async with aiohttp.ClientSession(connector=Connector()) as session:
        direct = Direct.of(session)
        assert direct is not None
        route = direct.route(URL("http://api.example.com/v1/x"))
        assert route is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(asyncio.TimeoutError):  # wait_for: an unbounded send fails the bound below
            await asyncio.wait_for(direct.send(route, "POST", b"{}", {}, 0.2), 2.0)
        assert 0.15 < loop.time() - started < 1.0


@direct
async def test_a_connection_is_kept_alive_unless_the_answer_says_close() -> None:
    made: List[int] = []
    answers = [ANSWER, ANSWER.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1), ANSWER]

    class Answering(_Capture):
        def write(self, data: Any) -> None:
            self._protocol.data_received(answers.pop(0))

    class Connector(aiohttp.BaseConnector):
        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:
            made.append(1)
            protocol = ResponseHandler(asyncio.get_running_loop())
            protocol.connection_made(Answering(protocol, []))
            return protocol

    async with aiohttp.ClientSession(connector=Connector()) as session:
        direct = Direct.of(session)
        assert direct is not None
        route = direct.route(URL("http://api.example.com/v1/x"))
        assert route is not None
        for expected in (1, 1, 2):
            status, content, _, _ = await direct.send(route, "POST", b"{}", {}, 5.0)
            assert (status, content) == (200, b"{}")
            assert len(made) == expected
