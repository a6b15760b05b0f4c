"""A loopback stand-in for Autumn's `POST /v1/balances.batch_track` until the sandbox serves it: 1 to 1,000
track items, each ignored when its `idempotency_key` came before (as the service does for 24 h), 202
`{success}`; 400 for a batch naming a customer it does not know; 503 while `outage` is set. It also takes
`POST /v1/balances.track_tokens`, which Autumn does not deduplicate: every arrival counts."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk_test_sandbox"


@dataclass
class FakeAutumn:
    customers: set[str] = field(default_factory=lambda: {"cus_1", "cus_2"})
    outage: bool = False
    url: str = ""
    seen: set[str] = field(default_factory=set)
    totals: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    """Recorded usage per (customer, feature), from items counted once."""
    arrivals: Counter[str] = field(default_factory=Counter)
    """How many times each idempotency key arrived, duplicates included."""
    batches: list[int] = field(default_factory=list)
    """The size of every batch that was accepted."""
    tokens: list[dict[str, Any]] = field(default_factory=list)
    """Every track_tokens body that arrived (each one counted by the service)."""
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests += 1
            if self.outage:
                return 503, {"message": "down", "code": "service_unavailable"}
            if path == "/v1/balances.track_tokens" and headers.get("authorization") == f"Bearer {API_KEY}":
                body_json = json.loads(body)
                self.tokens.append(body_json)
                return 200, {"customer_id": body_json["customer_id"], "value": 1, "balance": None}
            if path != "/v1/balances.batch_track":
                return 404, {"message": "no route", "code": "not_found"}
            if headers.get("authorization") != f"Bearer {API_KEY}":
                return 401, {"message": "bad key", "code": "unauthorized"}
            items = json.loads(body)
            if not isinstance(items, list) or not 1 <= len(items) <= 1000:
                return 400, {"message": "1 to 1,000 items", "code": "invalid_request"}
            for item in items:
                if item.get("customer_id") not in self.customers:
                    return 400, {
                        "message": f"no customer {item.get('customer_id')!r}",
                        "code": "invalid_request",
                    }
            for item in items:
                key = item["idempotency_key"]
                self.arrivals[key] += 1
                if key in self.seen:
                    continue
                self.seen.add(key)
                value = Decimal(str(item.get("value", 1)))
                where = (item["customer_id"], item["feature_id"])
                self.totals[where] = self.totals.get(where, Decimal(0)) + value
            self.batches.append(len(items))
            return 202, {"success": True}


@contextmanager
def serve(fake: FakeAutumn | None = None) -> Iterator[FakeAutumn]:
    state = fake or FakeAutumn()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            status, answer = state.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            content = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":  # serve from another process (bench/outbox.py), so it takes no share of the GIL
    import sys
    import time

    with serve() as running:
        print(running.url, flush=True)
        while sys.stdin.read(1):
            time.sleep(0.1)
