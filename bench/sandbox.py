"""How fast `meterly.sandbox.Sandbox` answers a test suite: sequential keep-alive checks, and a burst of
checks on new connections at once.

`python bench/sandbox.py` prints two lines (targets in brackets):
- the median and p99 of 300 sequential `balances.check` calls on one keep-alive connection [median <= 3 ms];
- the slowest of 48 checks made at once, each by its own client on a new connection [<= 400 ms];
- the CPU time of one 1,000-event `balances.batch_track` (each event with a fresh `idempotency_key`, as
  the usage outbox sends them) answered by `SandboxEngine.handle` in this process, without HTTP: the
  median and range of `--batches` (30) [median <= 8 ms]. The outbox's throughput to a sandbox is bound by
  it (`bench/outbox.py --only throughput`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import threading
import time
import uuid
from typing import List

from meterly import Meterly
from meterly.errors import MeterlyError
from meterly.sandbox import DEFAULT_API_KEY, Sandbox, SandboxEngine


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


def batch_track_cpu(batches: int, events: int = 1_000) -> List[float]:
    """CPU seconds of `engine.handle` per `batch_track` of `events` events with fresh keys, in process."""
    engine = (
        SandboxEngine(api_keys=[DEFAULT_API_KEY])
        .add_feature("api_calls")
        .add_plan("bulk", features=[{"feature_id": "api_calls", "included": 10**9}])
        .add_customer("cus_1", plans=["bulk"])
    )
    headers = {
        "authorization": f"Bearer {DEFAULT_API_KEY}",
        "content-type": "application/json",
        "x-api-version": "2.5.0",
    }
    stamp = int(time.time() * 1000)

    def body() -> bytes:
        batch = [
            {
                "customer_id": "cus_1",
                "feature_id": "api_calls",
                "value": 1,
                "timestamp": stamp,
                "idempotency_key": str(uuid.uuid4()),
            }
            for _ in range(events)
        ]
        return json.dumps(batch, separators=(",", ":")).encode()

    took: List[float] = []
    for i, raw in enumerate([body() for _ in range(batches + 2)]):
        started = time.process_time()
        answer = engine.handle("POST", "/v1/balances.batch_track", headers, raw)
        elapsed = time.process_time() - started
        assert answer.status == 202, answer.body
        if i >= 2:  # the first batches load the operation and warm the caches
            took.append(elapsed)
    balance = engine.balance("cus_1", "api_calls")
    assert balance is not None
    assert balance["usage"] == (batches + 2) * events
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300, help="sequential keep-alive checks")
    parser.add_argument("--burst", type=int, default=48, help="checks at once on new connections")
    parser.add_argument("--batches", type=int, default=30, help="1,000-event batch_tracks timed in process")
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
    cpu = sorted(batch_track_cpu(args.batches))
    print(
        f"sandbox: 1,000-event batch_track in process: median {statistics.median(cpu) * 1000:.2f} ms CPU "
        f"(range {cpu[0] * 1000:.2f}-{cpu[-1] * 1000:.2f}, {args.batches} batches)  [median <= 8 ms]"
    )


if __name__ == "__main__":
    main()
