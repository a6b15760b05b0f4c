"""A raw-socket HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose: one scripted fault per request.

`tests/loopback.py` speaks correct HTTP through `http.server`; this one writes bytes itself so it can
drop a connection before or after reading a request, reset it, stall, cut a body short of its
content-length, trickle a body byte by byte, or answer garbage. Behind the faults sits a `Ledger`: a
billing backend that counts each usage event once per Idempotency-Key, like the real service.
"""

from __future__ import annotations

import enum
import json
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Callable, Optional

from tests.conftest import CHECK_BODY, USAGE_BODY


class Fault(enum.Enum):
    """What the server does with one request."""

    OK = "ok"  # processes it and answers 200
    DROP_BEFORE_READ = "drop_before_read"  # closes the connection without reading the request
    DROP_AFTER_READ = "drop_after_read"  # processes it, then closes without answering
    RESET_AFTER_READ = "reset_after_read"  # processes it, then resets the connection (RST)
    STALL = "stall"  # processes it, then answers nothing until `stall_seconds` have passed
    ERROR_500 = "error_500"  # processes it, then answers 500 (the answer was lost, the event was not)
    UNAVAILABLE_503 = "unavailable_503"  # answers 503 without processing
    BAD_GATEWAY_HTML = "bad_gateway_html"  # a proxy's 502 page, not JSON, without processing
    RATE_LIMITED_429 = "rate_limited_429"  # answers 429 with a short retry-after-ms, without processing
    TRUNCATED = "truncated"  # processes it, sends half the body of a longer content-length, closes
    NOT_JSON = "not_json"  # processes it and answers 200 with a body that is not JSON
    GARBAGE = "garbage"  # processes it and answers bytes that are not HTTP
    SLOW_BODY = "slow_body"  # processes it and trickles the body one byte per `trickle_seconds`
    SLOW_HEADERS = "slow_headers"  # processes it and trickles the status line and headers the same way
    PLAIN_503 = "plain_503"  # answers 503 without processing and without asking for a wait
    RETRY_LATER_503 = "retry_later_503"  # answers 503 with `Retry-After: 30`, without processing


PROCESSING_FAULTS = frozenset(
    {
        Fault.OK,
        Fault.DROP_AFTER_READ,
        Fault.RESET_AFTER_READ,
        Fault.STALL,
        Fault.ERROR_500,
        Fault.TRUNCATED,
        Fault.NOT_JSON,
        Fault.GARBAGE,
        Fault.SLOW_BODY,
        Fault.SLOW_HEADERS,
    }
)
"""The faults that happen after the backend has counted the event: the dangerous ones for double counts."""


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, object]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data

    @property
    def customer(self) -> str:
        return str(self.json.get("customer_id") or self.json.get("customerId"))


def _event(request: RawRequest, key: str) -> dict[str, object]:
    """The recorded usage event a track answers with, echoing what the request sent."""
    sent = request.json
    return {
        "id": f"evt_{key}",
        "featureCode": sent.get("featureCode"),
        "value": sent.get("value", 1),
        "customerId": request.customer,
        "eventId": sent.get("eventId"),
        "ts": "2026-01-01T00:00:00Z",
        "createdAt": "2026-01-01T00:00:00Z",
        "properties": [],
    }


@dataclass
class Ledger:
    """A backend that dedupes by Idempotency-Key: a key seen before gets its first answer back."""

    events: Counter[str] = field(default_factory=Counter)
    """Counted usage events per customer."""
    answers: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def process(self, request: RawRequest) -> bytes:
        key = request.headers["idempotency-key"]
        with self.lock:
            answer = self.answers.get(key)
            if answer is None:
                self.events[request.customer] += 1
                if request.path.endswith("/usage/check"):
                    answer = json.dumps(USAGE_BODY).encode()
                elif request.path.endswith("/usage/events"):  # Commet's track, in its envelope
                    answer = json.dumps({"success": True, "data": _event(request, key)}).encode()
                else:
                    answer = json.dumps({**CHECK_BODY, "customer_id": request.customer}).encode()
                self.answers[key] = answer
            return answer


@dataclass
class FaultServer:
    """Serves until stopped; `plan()` picks the fault for each request the server is about to read."""

    plan: Callable[[], Fault]
    ledger: Ledger = field(default_factory=Ledger)
    stall_seconds: float = 2.0
    trickle_seconds: float = 0.05
    received: list[tuple[Fault, RawRequest]] = field(default_factory=list)
    faults: Counter[Fault] = field(default_factory=Counter)
    url: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _conns: set[socket.socket] = field(default_factory=set)

    def _next_fault(self) -> Fault:
        with self._lock:
            fault = self.plan()
            self.faults[fault] += 1
            return fault

    def serve_connection(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        buffer = b""
        try:
            while not self._stop.is_set():
                # Choose the fault only once a request starts arriving, so an idle keep-alive
                # connection never uses up a scripted fault.
                if not buffer and not conn.recv(1, socket.MSG_PEEK):
                    return
                fault = self._next_fault()
                if fault is Fault.DROP_BEFORE_READ:
                    return
                request, buffer = _read_request(conn, buffer)
                if request is None:
                    return
                with self._lock:
                    self.received.append((fault, request))
                if not self._answer(conn, fault, request):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _answer(self, conn: socket.socket, fault: Fault, request: RawRequest) -> bool:
        """Carries out `fault`; True when the connection may serve another request."""
        if fault is Fault.UNAVAILABLE_503:
            conn.sendall(_response(503, b'{"message":"unavailable"}', {"retry-after-ms": "5"}))
            return True
        if fault is Fault.RATE_LIMITED_429:
            conn.sendall(_response(429, b'{"message":"slow down"}', {"retry-after-ms": "5"}))
            return True
        if fault is Fault.PLAIN_503:
            conn.sendall(_response(503, b'{"message":"unavailable"}'))
            return True
        if fault is Fault.RETRY_LATER_503:
            conn.sendall(_response(503, b'{"message":"unavailable"}', {"retry-after": "30"}))
            return True
        if fault is Fault.BAD_GATEWAY_HTML:
            conn.sendall(_response(502, b"<html>Bad Gateway</html>", {"content-type": "text/html"}))
            return True
        body = self.ledger.process(request)
        if fault is Fault.OK:
            conn.sendall(_response(200, body))
            return True
        if fault is Fault.ERROR_500:
            conn.sendall(_response(500, b'{"message":"internal"}'))
            return True
        if fault is Fault.NOT_JSON:
            conn.sendall(_response(200, b"<html>OK</html>", {"content-type": "text/html"}))
            return True
        if fault is Fault.RESET_AFTER_READ:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif fault is Fault.STALL:
            self._stop.wait(self.stall_seconds)
        elif fault is Fault.TRUNCATED:
            head = _response(200, body, {"content-length": str(len(body) + 100)})
            conn.sendall(head[: len(head) - len(body) // 2])
        elif fault is Fault.GARBAGE:
            conn.sendall(b"HTTP/1.1 two hundred\r\n\x00\x01garbage\r\n\r\n")
        elif fault is Fault.SLOW_BODY or fault is Fault.SLOW_HEADERS:
            whole = _response(200, body)
            split = len(whole) - len(body) if fault is Fault.SLOW_BODY else 0
            conn.sendall(whole[:split])
            for i in range(split, len(whole)):
                if self._stop.wait(self.trickle_seconds):
                    break
                conn.sendall(whole[i : i + 1])
        return False

    def accept_forever(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self.serve_connection, args=(conn,), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def attempts_by_customer(self) -> dict[str, list[RawRequest]]:
        """The requests the server read, grouped by the customer id each call used."""
        grouped: dict[str, list[RawRequest]] = {}
        for _, request in self.received:
            grouped.setdefault(request.customer, []).append(request)
        return grouped


def _response(status: int, body: bytes, headers: Optional[dict[str, str]] = None) -> bytes:
    fields = {"content-type": "application/json", "content-length": str(len(body)), **(headers or {})}
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode() + body


def _read_request(conn: socket.socket, buffer: bytes) -> tuple[Optional[RawRequest], bytes]:
    """One request from the connection (None when the client closed it) and the bytes after it."""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    return RawRequest(method, path, headers, buffer[:length]), buffer[length:]


@contextmanager
def fault_server(plan: Callable[[], Fault], **options: float) -> Iterator[FaultServer]:
    """A FaultServer on a free loopback port for the duration of the block."""
    server = FaultServer(plan, **options)  # type: ignore[arg-type]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.05)
    server.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread = threading.Thread(target=server.accept_forever, args=(listener,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)
        listener.close()


def always(fault: Fault) -> Callable[[], Fault]:
    """A plan answering every request with `fault`."""
    return lambda: fault


def script(*faults: Fault, then: Fault = Fault.OK) -> Callable[[], Fault]:
    """A plan answering with each fault in turn, then `then` forever."""
    queue = list(faults)
    return lambda: queue.pop(0) if queue else then
