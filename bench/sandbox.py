"""How fast `meterly.sandbox.Sandbox` answers a test suite: sequential keep-alive checks, and a burst of
checks on new connections at once.

`python bench/sandbox.py` prints two lines (targets in brackets):
- the median and p99 of 300 sequential `balances.check` calls on one keep-alive connection [median <= 3 ms];
- the slowest of 48 checks made at once, each by its own client on a new connection [<= 400 ms].
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import threading
import time
from typing import List

from meterly import Meterly
from meterly.errors import MeterlyError
from meterly.sandbox import Sandbox


def sequential(sb: Sandbox, checks: int) -> List[float]:
    """Seconds per check, one client (one keep-alive connection) after the other."""
    took: List[float] = []
    with Meterly(api_key=sb.api_key, server_url=sb.url) as client:
        client.balances.check(customer_id="cus_pro", feature_id="messages")  # connect, compile the model
        for _ in range(checks):
            started = time.perf_counter()
            client.balances.check(customer_id="cus_pro", feature_id="messages")
            took.append(time.perf_counter() - started)
    return took


def burst(sb: Sandbox, checks: int) -> List[float]:
    """Seconds per check when `checks` clients, each on a new connection, call at the same moment."""
    clients = [Meterly(api_key=sb.api_key, server_url=sb.url) for _ in range(checks)]
    for client in clients:
        client._http()  # pyright: ignore[reportPrivateUsage]  # the pool, not yet a connection
    barrier = threading.Barrier(checks)
    took: List[float] = [math.inf] * checks  # a check that raised counts as never answered

    def one(i: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        with contextlib.suppress(MeterlyError):
            clients[i].balances.check(customer_id="cus_pro", feature_id="messages")
            took[i] = time.perf_counter() - started

    threads = [threading.Thread(target=one, args=(i,)) for i in range(checks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300, help="sequential keep-alive checks")
    parser.add_argument("--burst", type=int, default=48, help="checks at once on new connections")
    args = parser.parse_args()
    with Sandbox() as sb:
        # One client makes the first check alone, so the burst measures the server, not model compilation.
        sequential(sb, 1)
        seq = sorted(sequential(sb, args.checks))
        slowest = max(burst(sb, args.burst))
    median, p99 = statistics.median(seq), seq[int(len(seq) * 0.99) - 1]
    print(
        f"sandbox: {args.checks} sequential keep-alive checks: median {median * 1000:.2f} ms, "
        f"p99 {p99 * 1000:.2f} ms  [median <= 3 ms]"
    )
    print(
        f"sandbox: {args.burst} checks at once on new connections: slowest {slowest * 1000:.1f} ms  "
        "[<= 400 ms]"
    )


if __name__ == "__main__":
    main()
