"""SDK-side cost per call against raw httpx, both answered by the same zero-cost MockTransport.

Prints the median CPU time per call of `httpx.Client.post(...).json()` and of `Meterly.balances.check(...)`
over interleaved rounds, and their ratio. Run: `make bench` (or `.venv/bin/python bench/overhead.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from typing import Any, Callable

import httpx

from meterly import AsyncMeterly, Meterly

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import CHECK_BODY

URL = "https://api.meterly.dev/v1/balances.check"
RESPONSE = CHECK_BODY
HEADERS = {"content-type": "application/json", "x-request-id": "req_bench"}


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=RESPONSE, headers=HEADERS)


def time_per_call(fn: Callable[[], object], calls: int) -> float:
    """CPU seconds per call of this thread: the work is CPU-bound, and CPU time ignores preemption."""
    start = time.thread_time()
    for _ in range(calls):
        fn()
    return (time.thread_time() - start) / calls


ENGINES = ("httpx", "httpx-async", "httpx2", "httpx2-async")
"""The engines measured here: each SDK client is given a client of that library (injected), and the raw
side is the same library's own client, both answered by that library's `MockTransport`."""


def _pair(engine: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(raw call, SDK call) on `engine`; for an async engine, each returns an awaitable."""
    body = {"customer_id": "cus_123", "feature_id": "messages"}
    auth = {"authorization": "Bearer sk_bench"}
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


def measure(calls: int = 2000, rounds: int = 15, engine: str = "httpx") -> tuple[float, float]:
    """Median seconds per call of the raw client and of the SDK on `engine`, over interleaved rounds."""
    raw, sdk_call = _pair(engine)
    if engine.endswith("-async"):
        return asyncio.run(_measure_async(raw, sdk_call, calls, rounds))
    for fn in (raw, sdk_call):  # warm up: first-use compiles, connection pools, caches
        time_per_call(fn, 200)
    raw_times, sdk_times = [], []
    for i in range(rounds):  # alternate which goes first, so drifting load hits both alike
        pair = (raw, sdk_call) if i % 2 == 0 else (sdk_call, raw)
        for fn in pair:
            (raw_times if fn is raw else sdk_times).append(time_per_call(fn, calls))
    return statistics.median(raw_times), statistics.median(sdk_times)


async def _measure_async(
    raw: Callable[[], Any], sdk_call: Callable[[], Any], calls: int, rounds: int
) -> tuple[float, float]:
    async def per_call(fn: Callable[[], Any], n: int) -> float:
        start = time.thread_time()
        for _ in range(n):
            await fn()
        return (time.thread_time() - start) / n

    for fn in (raw, sdk_call):
        await per_call(fn, 200)
    raw_times, sdk_times = [], []
    for i in range(rounds):
        pair = (raw, sdk_call) if i % 2 == 0 else (sdk_call, raw)
        for fn in pair:
            (raw_times if fn is raw else sdk_times).append(await per_call(fn, calls))
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
    if args.echo:
        checked, unchecked = measure_echo_check(args.calls, args.rounds)
        print(f"answer compared           {checked * 1e6:8.1f} us/call")
        print(f"answer not compared       {unchecked * 1e6:8.1f} us/call")
        print(f"comparison costs          {(checked - unchecked) * 1e6:8.2f} us/call")
    return 0 if worst <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
