"""A WSGI app for test_gunicorn.py, loaded once by gunicorn's master (`--preload`) and forked into its
workers: every request queues one `usage.track` (value 1, the key the request names) into one durable
outbox file shared by all workers."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from meterly import Meterly
from meterly.outbox import Outbox

client = Meterly(
    api_key=os.environ["OUTBOX_TEST_KEY"],
    server_url=os.environ["OUTBOX_TEST_URL"],
    outbox=Outbox(path=os.environ["OUTBOX_TEST_PATH"], retry_initial_ms=20, retry_max_ms=200),
)
outbox = client.outbox


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    key = environ.get("QUERY_STRING", "").removeprefix("key=")
    outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=1, idempotency_key=key)
    start_response("200 OK", [("content-type", "text/plain"), ("x-worker", str(os.getpid()))])
    return [b"queued"]
