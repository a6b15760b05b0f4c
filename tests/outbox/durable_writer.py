"""Run as a script by test_durable.py: queue COUNT `balances.track` events (value 1) durably into PATH for
the server at URL, print "queued", then keep trying to deliver until killed."""

from __future__ import annotations

import sys
import time

from meterly import Meterly
from meterly.outbox import Outbox


def main(url: str, path: str, count: int) -> None:
    outbox = Outbox(path=path, retry_initial_ms=20, retry_max_ms=100, lease_ms=1_000)
    client = Meterly(api_key="sk_test_sandbox", server_url=url, outbox=outbox)
    box = client.outbox
    track = box.balances.track
    for _ in range(count):
        track(customer_id="cus_1", feature_id="api_calls", value=1)
    box.commit()
    print("queued", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
