"""Where the async pyreqwest engine's time goes with many calls in flight on a real socket.

`python bench/loopcpu.py [--concurrency 64]` starts the loopback server and prints, per call: wall time,
the event loop thread's CPU time and the whole process's CPU time (pyreqwest's runtime thread included),
in interleaved rounds (medians), for

- `floor`: the pyreqwest calls the SDK's sender makes, with the SDK's headers and body prepared once, and
  the answer validated into `CheckResponse`: what any typed client on pyreqwest does at least;
- `floor + prepare`: the same, with the SDK's `prepare` (argument checks, body, idempotency key,
  headers) run for every call;
- `floor + key`: the floor with only a new idempotency key made for every call (not sent);
- `meterly`: `AsyncMeterly.balances.check`.

`--micro` prints what `prepare` and the key cost in a tight loop, for comparison: on a busy event loop
that shares two cores with the runtime thread and the server, the same Python work costs several times
its tight-loop CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import timedelta
from typing import Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from overhead import check_args
from run import throughput
from server import canned_server

from meterly import AsyncMeterly
from meterly._idempotency import new_idempotency_key
from meterly._options import options_of
from meterly.balances import BALANCES_CHECK


async def measure(url: str, concurrency: int, calls: int, rounds: int) -> None:
    from pyreqwest.client import ClientBuilder

    sdk = AsyncMeterly(api_key="sk_bench", server_url=url, http_backend="pyreqwest", timeout_ms=5000)
    pipeline, args = sdk._pipeline, check_args()
    prepared = pipeline.prepare(BALANCES_CHECK, args, options=options_of(args))
    headers, body, text = prepared.headers, prepared.body, str(prepared.url)
    client = ClientBuilder().follow_redirects(False).build()
    timeout = timedelta(seconds=5)
    parse = BALANCES_CHECK.parse

    async def send(call_headers: Dict[str, str], call_body: bytes) -> object:
        sent = client.request("POST", text).headers(call_headers).body_bytes(call_body).timeout(timeout)
        response = await sent.build().send()
        return parse(bytes(await response.bytes()))

    async def floor() -> object:
        return await send(headers, body)

    async def floor_prepare() -> object:
        call = pipeline.prepare(BALANCES_CHECK, args, options=options_of(args))
        return await send(call.headers, call.body)

    async def floor_key() -> object:
        new_idempotency_key()
        return await send(headers, body)

    async def meterly() -> object:
        return await sdk.balances.check(customer_id="cus_123", feature_id="messages")

    variants = {
        "floor": floor,
        "floor + prepare": floor_prepare,
        "floor + key": floor_key,
        "meterly": meterly,
    }
    samples: Dict[str, List[tuple[float, float, float]]] = {name: [] for name in variants}
    for fn in variants.values():
        await throughput(fn, concurrency, 4 * concurrency + 200)
    names = list(variants)
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            wall, loop, process = time.perf_counter(), time.thread_time(), time.process_time()
            await throughput(variants[name], concurrency, calls)
            samples[name].append(
                (
                    (time.perf_counter() - wall) / calls,
                    (time.thread_time() - loop) / calls,
                    (time.process_time() - process) / calls,
                )
            )
    print(f"{concurrency} calls in flight, {calls} calls x {rounds} rounds, medians (us per call)")
    print(f"  {'':18s} {'wall':>8s} {'loop CPU':>9s} {'process CPU':>12s}")
    for name, values in samples.items():
        wall, loop, process = (statistics.median(v[k] for v in values) * 1e6 for k in range(3))
        print(f"  {name:18s} {wall:8.1f} {loop:9.1f} {process:12.1f}")
    await sdk.aclose()
    await client.close()


def micro(calls: int) -> None:
    sdk = AsyncMeterly(api_key="sk_bench", server_url="http://127.0.0.1:9", timeout_ms=5000)
    pipeline, args = sdk._pipeline, check_args()
    for name, fn in (
        ("prepare", lambda: pipeline.prepare(BALANCES_CHECK, args, options=options_of(args))),
        ("key", new_idempotency_key),
    ):
        fn()
        best = min(_loop_cpu(fn, calls) for _ in range(5))
        print(f"  tight loop: {name:8s} {best * 1e6:6.2f} us CPU per call")


def _loop_cpu(fn: Callable[[], object], calls: int) -> float:
    start = time.thread_time()
    for _ in range(calls):
        fn()
    return (time.thread_time() - start) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--calls", type=int, default=10_000, help="calls per round and variant")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server", choices=("nginx", "asyncio"), default="nginx")
    parser.add_argument("--micro", action="store_true", help="also time prepare and the key in a tight loop")
    options = parser.parse_args()
    with canned_server(options.server) as (url, kind):
        print(f"server: {kind} at {url}")
        asyncio.run(measure(url, options.concurrency, options.calls, options.rounds))
    if options.micro:
        micro(100_000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
