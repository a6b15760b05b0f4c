"""SDK-side cost per call against the raw client, both answered by the same zero-cost transport.

Prints the median CPU time per call of the raw client's post and JSON parse (`httpx.Client.post(...).json()`
and its equivalent on each engine) and of `Meterly.balances.check(...)` over interleaved rounds, and their
ratio. Run: `make bench` (or `.venv/bin/python bench/overhead.py --engines ...`). The zero-cost transport of
each engine is described beside `ENGINES` and in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict

import httpx

from meterly import AsyncMeterly, Meterly

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import AUTH, CHECK_BODY

URL = "https://api.meterly.dev/v1/balances.check"
RESPONSE = CHECK_BODY
HEADERS = {"content-type": "application/json", "x-request-id": "req_bench"}


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=RESPONSE, headers=HEADERS)


def time_per_call(
    fn: Callable[[], object], calls: int, clock: Callable[[], float] = time.thread_time
) -> float:
    """CPU seconds per call (of this thread, unless `clock` says otherwise): the work is CPU-bound, and
    CPU time ignores preemption."""
    start = clock()
    for _ in range(calls):
        fn()
    return (clock() - start) / calls


def clock_of(engine: str) -> Callable[[], float]:
    """The CPU clock an engine is timed by: the whole process for pyreqwest (its Rust runtime has threads
    of its own), the calling thread for every other engine."""
    return time.process_time if engine.startswith("pyreqwest") else time.thread_time


ENGINES = ("httpx", "httpx-async", "httpx2", "httpx2-async", "aiohttp", "pyreqwest", "pyreqwest-async")
"""The engines measured here, each answered without I/O at the lowest layer both sides share:

- httpx, httpx2 (sync and async): each SDK client is given a client of that library (injected), and the
  raw side is the same library's own client, both answered by that library's `MockTransport`;
- aiohttp: two `aiohttp.ClientSession`s over `CannedConnector` (a connector whose connections write into
  a transport that answers each complete request with the canned response bytes, fed to aiohttp's own
  protocol and parser), one injected into the SDK;
- pyreqwest (sync and async): clients built with `canned_middleware`, pyreqwest's own middleware hook
  answering every request with the canned response before any connection is made; the SDK's own client
  is built so by patching `pyreqwest_engine.new_client` / `new_async_client` (pyreqwest clients cannot be
  injected). Its async client runs part of each call on its Rust runtime's threads, so pyreqwest is timed
  in CPU time of the whole process, every other engine in CPU time of the calling thread."""


ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(RESPONSE), RESPONSE)
)
"""The canned response as it would arrive on the wire (for aiohttp's parser)."""


class CannedTransport(asyncio.Transport):
    """An asyncio transport that answers each complete request written to it (headers, then
    `content-length` bytes of body) with `ANSWER`, handed to its protocol at once: no socket, no loop
    round trip."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._protocol = protocol
        self._buffer = bytearray()
        self._closing = False

    def write(self, data: Any) -> None:
        buffer = self._buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = 0 if at < 0 else int(head[at + 15 :].split(b"\r\n", 1)[0])
        if len(buffer) < end + 4 + length:
            return
        del buffer[: end + 4 + length]
        self._protocol.data_received(ANSWER)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._protocol.connection_lost(None)

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0


def canned_session() -> Any:
    """An `aiohttp.ClientSession` whose connections are `CannedTransport`s. `_create_connection` is the
    one method aiohttp's `BaseConnector` leaves to its subclasses (aiohttp's own tests override it too);
    this fails at once if an aiohttp release drops it."""
    import aiohttp
    from aiohttp.client_proto import ResponseHandler

    if not hasattr(aiohttp.BaseConnector, "_create_connection"):
        raise RuntimeError(f"aiohttp {aiohttp.__version__}: BaseConnector._create_connection is gone")

    class CannedConnector(aiohttp.BaseConnector):
        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:
            protocol = ResponseHandler(asyncio.get_running_loop())
            protocol.connection_made(CannedTransport(protocol))
            return protocol

    return aiohttp.ClientSession(connector=CannedConnector())


def canned_middleware(is_async: bool) -> Any:
    """A pyreqwest middleware answering every request with the canned response, without sending it."""
    from pyreqwest.response import ResponseBuilder

    answer = ResponseBuilder().status(200).headers(HEADERS).body_bytes(RESPONSE)
    if not is_async:
        return lambda request, next_: answer.copy().build_sync()

    async def middleware(request: Any, next_: Any) -> Any:
        return await answer.copy().build()

    return middleware


def _pyreqwest_pair(engine: str, body: Dict[str, Any], auth: Dict[str, str]) -> tuple[Any, Any]:
    from pyreqwest.client import ClientBuilder, SyncClientBuilder

    from meterly._engines import pyreqwest_engine

    is_async = engine.endswith("-async")
    middleware = canned_middleware(is_async)

    def canned_client() -> Any:
        made: Any = ClientBuilder() if is_async else SyncClientBuilder()
        return made.follow_redirects(False).with_middleware(middleware).build()

    # The SDK's own pyreqwest client is built as the engine builds it, plus the same middleware; the raw
    # client is the same.
    pyreqwest_engine.new_client = canned_client  # type: ignore[assignment]
    pyreqwest_engine.new_async_client = canned_client  # type: ignore[assignment]
    raw_client = canned_client()
    if is_async:
        sdk_async = AsyncMeterly(api_key="sk_bench", http_backend="pyreqwest")

        async def araw() -> object:
            response = await raw_client.post(URL).body_json(body).headers(auth).build().send()
            return await response.json()

        return araw, lambda: sdk_async.balances.check(customer_id="cus_123", feature_id="messages")
    sdk = Meterly(api_key="sk_bench", http_backend="pyreqwest")
    return (
        lambda: raw_client.post(URL).body_json(body).headers(auth).build().send().json(),
        lambda: sdk.balances.check(customer_id="cus_123", feature_id="messages"),
    )


def check_args() -> Dict[str, Any]:
    """The arguments `balances.check(customer_id="cus_123", feature_id="messages")` hands the pipeline
    (its `locals()`)."""
    from meterly.balances import Balances

    parameters = inspect.signature(Balances.check).parameters.values()
    args = {p.name: p.default for p in parameters if p.name != "self"}
    args.update(customer_id="cus_123", feature_id="messages")
    return args


def _pyreqwest_floor(engine: str) -> Callable[[], Any]:
    """What any client on pyreqwest that returns the typed answer must do at least: the pyreqwest calls
    the SDK's sender makes (method, URL, the SDK's headers, body bytes, timeout, send, read), and the
    answer validated into `CheckResponse` by the SDK's own parser; no argument checks, no idempotency
    key, no driver."""
    from datetime import timedelta

    from meterly._engines import pyreqwest_engine
    from meterly._options import options_of
    from meterly.balances import BALANCES_CHECK

    parse = BALANCES_CHECK.parse
    parse(RESPONSE)  # compiles the model's validator
    sdk = Meterly(api_key="sk_bench")
    args = check_args()
    call = sdk._pipeline.prepare(BALANCES_CHECK, args, options=options_of(args))
    headers, content, text = call.headers, call.body, str(call.url)
    sdk.close()
    timeout = timedelta(seconds=5)
    # The engine's client maker, patched by `_pyreqwest_pair` to answer at once.
    is_async = engine.endswith("-async")
    client = pyreqwest_engine.new_async_client() if is_async else pyreqwest_engine.new_client()
    if is_async:

        async def afloor() -> object:
            sent = client.request("POST", text).headers(headers).body_bytes(content).timeout(timeout)
            response = await sent.build().send()
            return parse(bytes(await response.bytes()))

        return afloor

    def floor() -> object:
        sent = client.request("POST", text).headers(headers).body_bytes(content).timeout(timeout)
        return parse(bytes(sent.build().send().bytes()))

    return floor


def _pair(engine: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(raw call, SDK call) on `engine`; for an async engine, each returns an awaitable."""
    body = {"customer_id": "cus_123", "feature_id": "messages"}
    auth = AUTH
    if engine.startswith("pyreqwest"):
        return _pyreqwest_pair(engine, body, auth)
    if engine == "aiohttp":
        # Sessions are bound to the loop they are made in: made at the first call, in the loop that
        # runs the measurement.
        sessions: Dict[str, Any] = {}

        async def aio_raw() -> object:
            session = sessions.get("raw") or sessions.setdefault("raw", canned_session())
            async with session.post(URL, json=body, headers=auth) as response:
                return await response.json()

        def aio_sdk() -> Any:
            sdk = sessions.get("sdk") or sessions.setdefault(
                "sdk", AsyncMeterly(api_key="sk_bench", client=canned_session())
            )
            return sdk.balances.check(customer_id="cus_123", feature_id="messages")

        async def aio_close() -> None:
            await sessions["raw"].close()
            await sessions["sdk"]._pool.client.close()  # injected: the SDK leaves it open

        aio_raw.close = aio_close  # type: ignore[attr-defined]
        return aio_raw, aio_sdk
    library: Any = httpx
    if engine.startswith("httpx2"):
        import httpx2

        library = httpx2

    def answer(request: Any) -> Any:
        return library.Response(200, content=RESPONSE, headers=HEADERS)

    if engine.endswith("-async"):
        raw_async = library.AsyncClient(transport=library.MockTransport(answer))
        sdk_async = AsyncMeterly(
            api_key="sk_bench", client=library.AsyncClient(transport=library.MockTransport(answer))
        )

        async def araw() -> object:
            return (await raw_async.post(URL, json=body, headers=auth)).json()

        return araw, lambda: sdk_async.balances.check(customer_id="cus_123", feature_id="messages")
    raw_client = library.Client(transport=library.MockTransport(answer))
    sdk = Meterly(api_key="sk_bench", client=library.Client(transport=library.MockTransport(answer)))
    return (
        lambda: raw_client.post(URL, json=body, headers=auth).json(),
        lambda: sdk.balances.check(customer_id="cus_123", feature_id="messages"),
    )


def measure(
    calls: int = 2000, rounds: int = 15, engine: str = "httpx", floor: bool = False
) -> tuple[float, float]:
    """Median seconds per call of the raw client and of the SDK on `engine`, over interleaved rounds;
    with `floor` (pyreqwest engines), of the raw client and of `_pyreqwest_floor` instead of the SDK."""
    patched: Dict[str, Any] = {}
    if engine.startswith("pyreqwest"):  # `_pyreqwest_pair` patches these; put back when done
        from meterly._engines import pyreqwest_engine

        patched = {name: getattr(pyreqwest_engine, name) for name in ("new_client", "new_async_client")}
    try:
        return _measure(engine, calls, rounds, floor)
    finally:
        if patched:
            for name, value in patched.items():
                setattr(pyreqwest_engine, name, value)


def _measure(engine: str, calls: int, rounds: int, floor: bool = False) -> tuple[float, float]:
    raw, sdk_call = _pair(engine)
    if floor:
        sdk_call = _pyreqwest_floor(engine)
    clock = clock_of(engine)
    if engine.endswith("-async") or engine == "aiohttp":
        return asyncio.run(_measure_async(raw, sdk_call, calls, rounds, clock))
    for fn in (raw, sdk_call):  # warm up: first-use compiles, connection pools, caches
        time_per_call(fn, 200, clock)
    raw_times, sdk_times = [], []
    for i in range(rounds):  # alternate which goes first, so drifting load hits both alike
        pair = (raw, sdk_call) if i % 2 == 0 else (sdk_call, raw)
        for fn in pair:
            (raw_times if fn is raw else sdk_times).append(time_per_call(fn, calls, clock))
    return statistics.median(raw_times), statistics.median(sdk_times)


async def _measure_async(
    raw: Callable[[], Any],
    sdk_call: Callable[[], Any],
    calls: int,
    rounds: int,
    clock: Callable[[], float] = time.thread_time,
) -> tuple[float, float]:
    async def per_call(fn: Callable[[], Any], n: int) -> float:
        start = clock()
        for _ in range(n):
            await fn()
        return (clock() - start) / n

    for fn in (raw, sdk_call):
        await per_call(fn, 200)
    raw_times, sdk_times = [], []
    for i in range(rounds):
        pair = (raw, sdk_call) if i % 2 == 0 else (sdk_call, raw)
        for fn in pair:
            (raw_times if fn is raw else sdk_times).append(await per_call(fn, calls))
    close = getattr(raw, "close", None)
    if close is not None:
        await close()
    return statistics.median(raw_times), statistics.median(sdk_times)


def measure_seam(calls: int = 2000, rounds: int = 15) -> dict[str, list[float]]:
    """Seconds per call in each interleaved round: `direct`, the SDK without the instrumentation seam;
    `seam`, through it while no instrument is set (with `meterly.integrations.otel` imported); `traced`,
    with OpenTelemetry on (SDK tracer and meter providers, no exporter)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    from meterly.integrations.otel import MeterlyInstrumentor

    def client() -> Meterly:
        return Meterly(api_key="sk_bench", client=httpx.Client(transport=httpx.MockTransport(handler)))

    # The call path before the seam existed: the resources call the driver itself.
    direct = client()
    direct._request = direct._drive  # type: ignore[method-assign]
    seam = client()
    traced = client()
    MeterlyInstrumentor(tracer_provider=TracerProvider(), meter_provider=MeterProvider()).instrument_client(
        traced
    )
    fns = {
        name: (lambda c=c: c.balances.check(customer_id="cus_123", feature_id="messages"))
        for name, c in (("direct", direct), ("seam", seam), ("traced", traced))
    }
    for fn in fns.values():
        time_per_call(fn, 200)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()  # the traced client's garbage would otherwise be collected in the next sample
            samples[name].append(time_per_call(fns[name], calls))
    return samples


def measure_echo_check(calls: int = 2000, rounds: int = 15) -> tuple[float, float]:
    """Median seconds per SDK call with the answer compared with its request (the operation's declared
    `echoes`, API.md "Answers belong to their requests") and with the comparison switched off, over
    interleaved rounds: the difference is what the comparison costs."""
    from meterly.balances import BALANCES_CHECK

    declared = BALANCES_CHECK.echoes
    sdk = Meterly(api_key="sk_bench", client=httpx.Client(transport=httpx.MockTransport(handler)))

    def call() -> object:
        return sdk.balances.check(customer_id="cus_123", feature_id="messages")

    time_per_call(call, 200)
    checked, unchecked = [], []
    try:
        for i in range(rounds):
            for compare in (True, False) if i % 2 == 0 else (False, True):
                BALANCES_CHECK.echoes = declared if compare else ()
                (checked if compare else unchecked).append(time_per_call(call, calls))
    finally:
        BALANCES_CHECK.echoes = declared
    return statistics.median(checked), statistics.median(unchecked)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds; the median is kept")
    parser.add_argument("--limit", type=float, default=1.0, help="exit 1 when a ratio is above this")
    parser.add_argument("--engines", nargs="*", default=["httpx"], choices=ENGINES, help="engines to measure")
    parser.add_argument("--echo", action="store_true", help="also time the answer-to-request comparison")
    args = parser.parse_args()
    worst = 0.0
    for engine in args.engines:
        raw, sdk = measure(args.calls, args.rounds, engine)
        raw_us, sdk_us = raw * 1e6, sdk * 1e6
        ratio = sdk_us / raw_us
        worst = max(worst, ratio)
        print(f"{engine}: raw post().json()   {raw_us:8.1f} us/call")
        print(f"{engine}: meterly balances.check {sdk_us:8.1f} us/call")
        print(f"{engine}: ratio                 {ratio:8.3f}x  (limit {args.limit}x)")
        if engine.startswith("pyreqwest"):
            raw, least = measure(args.calls, args.rounds, engine, floor=True)
            print(f"{engine}: floor (raw {raw * 1e6:.1f}) {least * 1e6:8.1f} us/call  {least / raw:.3f}x raw")
    if args.echo:
        checked, unchecked = measure_echo_check(args.calls, args.rounds)
        print(f"answer compared           {checked * 1e6:8.1f} us/call")
        print(f"answer not compared       {unchecked * 1e6:8.1f} us/call")
        print(f"comparison costs          {(checked - unchecked) * 1e6:8.2f} us/call")
    return 0 if worst <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
