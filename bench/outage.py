"""What an outage costs a caller with `fail_open=True` and the defaults, on each client.

`python bench/outage.py` puts a `Sandbox` in outage (every check answered 503) under a running app's
client (one that has made a check) and prints, for the sync client shared by threads and for both async
backends: the slowest of 32 checks made at once (the first wave, whose failed attempts open the circuit)
[<= 500 ms], and the median and p99 of 200 later checks (answered by the open circuit without I/O)
[p99 < 1 ms].
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from typing import List, Tuple

from meterly import AsyncMeterly, Meterly
from meterly.sandbox import Sandbox

CUSTOMER, FEATURE = "cus_pro", "messages"


def sync_outage(sb: Sandbox, wave: int, later: int) -> Tuple[List[float], List[float]]:
    with Meterly(api_key=sb.api_key, server_url=sb.url, fail_open=True) as sdk:
        sb.engine.faults.outage = False
        sdk.balances.check(customer_id=CUSTOMER, feature_id=FEATURE)  # a running app: its pool is open
        sb.engine.faults.outage = True
        barrier = threading.Barrier(wave)
        took = [0.0] * wave

        def one(i: int) -> None:
            barrier.wait()
            started = time.perf_counter()
            sdk.balances.check(customer_id=CUSTOMER, feature_id=FEATURE)
            took[i] = time.perf_counter() - started

        threads = [threading.Thread(target=one, args=(i,)) for i in range(wave)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = []
        for _ in range(later):
            started = time.perf_counter()
            sdk.balances.check(customer_id=CUSTOMER, feature_id=FEATURE)
            after.append(time.perf_counter() - started)
    return took, after


def async_outage(sb: Sandbox, backend: str, wave: int, later: int) -> Tuple[List[float], List[float]]:
    async def run() -> Tuple[List[float], List[float]]:
        async with AsyncMeterly(
            api_key=sb.api_key,
            server_url=sb.url,
            fail_open=True,
            http_backend=backend,  # type: ignore[arg-type]
        ) as sdk:
            sb.engine.faults.outage = False
            await sdk.balances.check(customer_id=CUSTOMER, feature_id=FEATURE)  # a running app's open pool
            sb.engine.faults.outage = True

            async def one() -> float:
                started = time.perf_counter()
                await sdk.balances.check(customer_id=CUSTOMER, feature_id=FEATURE)
                return time.perf_counter() - started

            took = list(await asyncio.gather(*(one() for _ in range(wave))))
            after = []
            for _ in range(later):
                started = time.perf_counter()
                await sdk.balances.check(customer_id=CUSTOMER, feature_id=FEATURE)
                after.append(time.perf_counter() - started)
            return took, after

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wave", type=int, default=32)
    parser.add_argument("--later", type=int, default=200)
    args = parser.parse_args()
    with Sandbox() as sb:
        for name in ("sync", "httpx", "aiohttp"):
            if name == "sync":
                took, after = sync_outage(sb, args.wave, args.later)
            else:
                took, after = async_outage(sb, name, args.wave, args.later)
            after.sort()
            p99 = after[int(len(after) * 0.99) - 1]
            print(
                f"outage, {name:7s}: {args.wave} checks at once, slowest {max(took) * 1000:.1f} ms [<= 500]; "
                f"{args.later} later checks median {statistics.median(after) * 1000:.3f} ms, "
                f"p99 {p99 * 1000:.3f} ms [< 1]"
            )


if __name__ == "__main__":
    main()
