"""Memory of N sequential checks in this process: RSS growth after warm-up, peak RSS, open descriptors.

`python bench/memory.py --url http://127.0.0.1:PORT --checks 100000 --client meterly` prints one JSON line;
`bench/run.py` starts the server and runs it for the SDK and for raw httpx. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
from typing import Callable

WARM_UP = 2_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--checks", type=int, default=100_000)
    parser.add_argument("--client", choices=("meterly", "httpx"), default="meterly")
    args = parser.parse_args()

    call: Callable[[], object]
    if args.client == "meterly":
        from meterly import Meterly

        sdk = Meterly(api_key="sk_bench", server_url=args.url)

        def call() -> object:
            return sdk.balances.check(customer_id="cus_123", feature_id="messages")

    else:
        import httpx

        client = httpx.Client()
        url = args.url + "/v1/balances.check"
        body = {"customer_id": "cus_123", "feature_id": "messages"}

        def call() -> object:
            return client.post(url, json=body, headers={"authorization": "Bearer sk_bench"}).json()

    for _ in range(WARM_UP):
        call()
    gc.collect()
    start_rss, start_fds = rss_mb(), open_fds()
    for _ in range(args.checks):
        call()
    gc.collect()
    end_rss, end_fds = rss_mb(), open_fds()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "client": args.client,
                "checks": args.checks,
                "growth_mb": end_rss - start_rss,
                "peak_mb": peak_mb,
                "fds_start": start_fds,
                "fds_end": end_fds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
