"""What client work between two requests costs the next round trip on this machine.

`python bench/idle.py` prints the time per call of raw http.client and raw pyreqwest (when installed)
posting a check to the loopback server back to back, and with a busy-wait of 5 and 20 us between calls
(CPU work that allocates nothing and touches no socket), in interleaved rounds. Where a busy-wait adds
more than its own length, any per-call work of a client (an SDK's argument checks and model parsing)
costs it more latency than CPU: docs/performance.md reads the pyreqwest engine's sync figures with it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from typing import Callable, Dict, List
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import AUTH, canned_server

PATH = "/v1/balances.check"
PAYLOAD = json.dumps({"customer_id": "cus_123", "feature_id": "messages"}).encode()
HEADERS = {"content-type": "application/json", **AUTH}


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def clients(url: str) -> Dict[str, Callable[[], object]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)

    def stdlib() -> object:
        conn.request("POST", PATH, body=PAYLOAD, headers=HEADERS)
        return conn.getresponse().read()

    found: Dict[str, Callable[[], object]] = {"http.client": stdlib}
    try:
        from pyreqwest.client import SyncClientBuilder
    except ImportError:
        return found
    rq = SyncClientBuilder().build()

    def reqwest() -> object:
        return rq.post(url + PATH).body_bytes(PAYLOAD).headers(HEADERS).build().send().bytes()

    found["pyreqwest"] = reqwest
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300, help="calls per round and measurement")
    parser.add_argument("--server", choices=("nginx", "asyncio"), default="nginx")
    args = parser.parse_args()
    with canned_server(args.server) as (url, name):
        print(f"server: {name}")
        fns: Dict[str, Callable[[], object]] = {}
        for client, call in clients(url).items():
            for wait_us in (0, 5, 20):
                fns[f"{client}, {wait_us} us of work between calls"] = (
                    call if wait_us == 0 else (lambda c=call, s=wait_us / 1e6: (c(), spin(s)))
                )
        for fn in fns.values():
            for _ in range(100):
                fn()
        took: Dict[str, List[float]] = {name: [] for name in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                started = time.perf_counter()
                for _ in range(args.calls):
                    fn()
                took[name].append((time.perf_counter() - started) / args.calls)
    for name, samples in took.items():
        print(f"  {name:45s} {statistics.median(samples) * 1e6:8.1f} us/call")


if __name__ == "__main__":
    main()
