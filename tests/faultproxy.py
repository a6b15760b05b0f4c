"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1 that sits in front of a real server (the sandbox) and,
per request, forwards it, loses the answer, doubles it, resets, trickles it, or answers 5xx/429 itself.

The upstream's own state (the sandbox ledger) stays the truth of what was recorded; the proxy only
decides what the client gets to see. Requests are numbered in arrival order (from 0); each one's fault
comes from a script (a list, then OK), a function of the request, or a seeded random mix. The proxy
speaks just enough HTTP/1.1: Content-Length framing both ways (neither the SDK nor the sandbox chunks;
a chunked message is refused with a 501 so a test notices). It runs one thread per client connection,
each with its own kept-alive upstream connection, stops by itself after `lifetime_s`, and counts what
it did in `counts` (forwarded, dropped, duplicated, reset, trickled, injected_5xx, injected_429).

    with Sandbox(engine) as sandbox, FaultProxy(sandbox.url, script=[Fault.DUPLICATE]) as proxy:
        Meterly(server_url=proxy.url, ...)
"""

from __future__ import annotations

import contextlib
import enum
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from types import TracebackType
from typing import Optional, Union
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 4 * 1024 * 1024


class Fault(str, enum.Enum):
    """What the proxy does with one request. `_AFTER` faults forward it first (the upstream records
    it, the client never learns); `_BEFORE` faults and the 429s never let it reach the upstream."""

    OK = "ok"
    DROP_AFTER = "drop_after"  # forwarded; the answer is lost: the client connection is closed (FIN)
    DROP_BEFORE = "drop_before"  # not forwarded; the client connection is closed (FIN)
    RESET_BEFORE = "reset_before"  # not forwarded; RST
    RESET_AFTER = "reset_after"  # forwarded, answer read and thrown away; RST
    DUPLICATE = "duplicate"  # forwarded; the answer is sent twice on the kept-alive connection
    TRICKLE = "trickle"  # forwarded; the answer goes out `trickle_bytes` every `trickle_delay_s`
    ERROR_503_BEFORE = "503_before"  # not forwarded; the proxy answers 503
    ERROR_500_AFTER = "500_after"  # forwarded; the proxy answers 500 instead of the real answer
    ERROR_502_AFTER = "502_after"  # forwarded; the proxy answers 502 instead of the real answer
    RATE_LIMIT_ZERO = "429_retry_after_0"
    RATE_LIMIT_NEGATIVE = "429_retry_after_negative"
    RATE_LIMIT_HUGE = "429_retry_after_huge"
    RATE_LIMIT_DATE = "429_retry_after_http_date"
    RATE_LIMIT_JUNK = "429_retry_after_junk"
    RATE_LIMIT_MS = "429_retry_after_ms"

    @property
    def forwards(self) -> bool:
        """Whether the request reaches the upstream under this fault."""
        return self in FORWARDED

    @property
    def answers_truthfully(self) -> bool:
        """Whether the client gets the upstream's own answer (perhaps slowly, perhaps twice)."""
        return self in (Fault.OK, Fault.DUPLICATE, Fault.TRICKLE)


FORWARDED = frozenset(
    {
        Fault.OK,
        Fault.DROP_AFTER,
        Fault.RESET_AFTER,
        Fault.DUPLICATE,
        Fault.TRICKLE,
        Fault.ERROR_500_AFTER,
        Fault.ERROR_502_AFTER,
    }
)
RATE_LIMITS = (
    Fault.RATE_LIMIT_ZERO,
    Fault.RATE_LIMIT_NEGATIVE,
    Fault.RATE_LIMIT_HUGE,
    Fault.RATE_LIMIT_DATE,
    Fault.RATE_LIMIT_JUNK,
    Fault.RATE_LIMIT_MS,
)
LOST_AFTER_FORWARDING = (Fault.DROP_AFTER, Fault.RESET_AFTER, Fault.ERROR_500_AFTER, Fault.ERROR_502_AFTER)
"""Every fault whose request reached the upstream (which may have recorded it) while its answer was
lost or replaced."""
NEVER_FORWARDED = (Fault.DROP_BEFORE, Fault.RESET_BEFORE, Fault.ERROR_503_BEFORE, *RATE_LIMITS)
"""Every fault whose request certainly never reached the upstream."""


@dataclass(frozen=True)
class ProxiedRequest:
    """One request as the proxy read it; header names are lower-cased."""

    index: int
    connection: int
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Event:
    """What the proxy did with one request."""

    request: ProxiedRequest
    fault: Fault
    upstream_status: Optional[int]  # None when not forwarded (or the upstream failed)


Plan = Callable[[ProxiedRequest], Fault]


def mix(seed: int, weights: Mapping[Fault, float]) -> Plan:
    """A seeded random plan: request number `n` gets the same fault for the same seed and weights,
    whatever the thread scheduling (only which call is request `n` can vary under concurrency)."""
    faults = list(weights)
    chances = list(weights.values())

    def plan(request: ProxiedRequest) -> Fault:
        return random.Random(f"{seed}:{request.index}").choices(faults, chances)[0]

    return plan


class _Closed(Exception):
    """The peer closed the connection (or the proxy is stopping)."""


class _Unsupported(Exception):
    """A message this proxy cannot frame (chunked, oversized)."""


def _rst(sock: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN: SO_LINGER on, timeout 0."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _fin(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Reader:
    """Buffered reads of HTTP/1.1 messages framed by Content-Length, giving up when `stopping` is set."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self.stopping = stopping
        self.buffer = b""

    def _fill(self) -> None:
        while True:
            if self.stopping.is_set():
                raise _Closed
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise _Closed from exc
            if not chunk:
                raise _Closed
            self.buffer += chunk
            return

    def message(self) -> tuple[bytes, dict[str, str], bytes]:
        """(start line and headers as sent, lower-cased headers, body) of the next message."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD:
                raise _Unsupported("head too large")
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _Unsupported("chunked transfer-encoding")
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise _Unsupported("body too large")
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return head + b"\r\n\r\n", headers, body


def _response(status: int, reason: str, headers: Mapping[str, str], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _error_body(path: str, status: int, code: str) -> bytes:
    # The error shape of the route's service: Commet's envelope under /usage, Autumn's flat one else.
    if "/usage/" in path:
        return (
            f'{{"success":false,"error":{{"type":"api_error","code":"{code}",'
            f'"message":"fault proxy: {status}"}}}}'
        ).encode()
    return f'{{"message":"fault proxy: {status}","code":"{code}"}}'.encode()


def _injected(fault: Fault, request: ProxiedRequest) -> bytes:
    """The proxy's own answer for a 5xx or 429 fault."""
    json = {"content-type": "application/json", "x-request-id": f"req_proxy_{request.index}"}
    if fault is Fault.ERROR_503_BEFORE:
        return _response(503, "Service Unavailable", json, _error_body(request.path, 503, "unavailable"))
    if fault is Fault.ERROR_500_AFTER:
        return _response(500, "Internal Server Error", json, _error_body(request.path, 500, "internal"))
    if fault is Fault.ERROR_502_AFTER:
        return _response(502, "Bad Gateway", json, _error_body(request.path, 502, "bad_gateway"))
    retry_after = {
        Fault.RATE_LIMIT_ZERO: {"retry-after": "0"},
        Fault.RATE_LIMIT_NEGATIVE: {"retry-after": "-5"},
        Fault.RATE_LIMIT_HUGE: {"retry-after": "86400"},
        Fault.RATE_LIMIT_DATE: {"retry-after": formatdate(time.time() + 1, usegmt=True)},
        Fault.RATE_LIMIT_JUNK: {"retry-after": "soon"},
        Fault.RATE_LIMIT_MS: {"retry-after-ms": "40", "retry-after": "3600"},
    }[fault]
    body = _error_body(request.path, 429, "rate_limit_exceeded")
    return _response(429, "Too Many Requests", {**json, **retry_after}, body)


@dataclass
class FaultProxy:
    """Serves on `http://127.0.0.1:<port>` (`url`) while the `with` block runs, relaying to `upstream`.

    `script` is a list of faults for requests 0, 1, 2... (OK after its end) or a `Plan` (see `mix`).
    At most `max_connections` client connections at once; after `lifetime_s` the proxy stops by itself.
    """

    upstream: str
    script: Union[Sequence[Fault], Plan] = ()
    trickle_bytes: int = 48
    trickle_delay_s: float = 0.03
    lifetime_s: float = 300.0
    max_connections: int = 256
    counts: Counter[str] = field(default_factory=Counter[str])
    events: list[Event] = field(default_factory=list[Event])
    url: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError("upstream must be http://host:port")
        self._upstream_address = (parts.hostname, parts.port)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._next_index = 0
        self._busy = 0  # requests read and not yet fully handled
        self._next_connection = 0
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: Optional[socket.socket] = None
        self._acceptor: Optional[threading.Thread] = None
        self._timer: Optional[threading.Timer] = None

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        listener.settimeout(0.05)
        self._listener = listener
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self._acceptor = threading.Thread(target=self._accept, name="faultproxy-accept", daemon=True)
        self._acceptor.start()
        self._timer = threading.Timer(self.lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection, and wait for the threads (idempotent)."""
        self._stopping.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if self._acceptor is not None and self._acceptor is not threading.current_thread():
            self._acceptor.join(timeout=5)
        with self._lock:
            sockets = list(self._sockets)
            threads = list(self._threads)
        for sock in sockets:
            _fin(sock)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    # -- what happened ----------------------------------------------------------------------------

    def settle(self, quiet_s: float = 0.05, timeout_s: float = 5.0) -> None:
        """Wait until no request has been in hand for `quiet_s` (each one read was forwarded and
        answered, or faulted): a client can read a duplicated answer and move on before its own request
        has reached the upstream, so a test reads the upstream's ledger only after this."""
        deadline = time.monotonic() + timeout_s
        quiet_since: Optional[float] = None
        while time.monotonic() < deadline:
            with self._lock:
                busy = self._busy
            now = time.monotonic()
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                return
            time.sleep(0.005)
        raise TimeoutError("the fault proxy still has requests in flight")

    def faults_by_key(self) -> dict[str, list[Fault]]:
        """The faults each Idempotency-Key's attempts met, in order."""
        with self._lock:
            events = list(self.events)
        by_key: dict[str, list[Fault]] = {}
        for event in events:
            key = event.request.headers.get("idempotency-key", "")
            by_key.setdefault(key, []).append(event.fault)
        return by_key

    # -- serving ----------------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                if len(self._sockets) >= 2 * self.max_connections:
                    _fin(client)
                    continue
                number = self._next_connection
                self._next_connection += 1
                self._sockets.add(client)
                self._threads = [t for t in self._threads if t.is_alive()]
                thread = threading.Thread(
                    target=self._serve, args=(client, number), name=f"faultproxy-{number}", daemon=True
                )
                self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _plan(self, request: ProxiedRequest) -> Fault:
        if callable(self.script):
            return self.script(request)
        return self.script[request.index] if request.index < len(self.script) else Fault.OK

    def _count(self, *names: str) -> None:
        with self._lock:
            self.counts.update(names)

    def _serve(self, client: socket.socket, number: int) -> None:
        client.settimeout(0.1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = _Reader(client, self._stopping)
        upstream: Optional[socket.socket] = None
        upstream_reader: Optional[_Reader] = None
        close_with = _fin
        try:
            while not self._stopping.is_set():
                try:
                    head, headers, body = reader.message()
                except _Unsupported:
                    client.sendall(_response(501, "Not Implemented", {"connection": "close"}, b""))
                    return
                method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
                with self._lock:
                    index = self._next_index
                    self._next_index += 1
                    self._busy += 1
                try:
                    request = ProxiedRequest(index, number, method, rest.rsplit(" ", 1)[0], headers, body)
                    fault = self._plan(request)
                    self._count("requests", fault.value)
                    status: Optional[int] = None
                    answer = b""
                    if fault.forwards:
                        if upstream is None:
                            upstream = socket.create_connection(self._upstream_address, timeout=5)
                            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                            self._track(upstream)
                            upstream_reader = _Reader(upstream, self._stopping)
                        assert upstream_reader is not None
                        upstream.sendall(head + body)
                        response_head, response_headers, response_body = upstream_reader.message()
                        status = int(response_head.split(b" ", 2)[1])
                        answer = response_head + response_body
                        self._count("forwarded")
                        if response_headers.get("connection", "").lower() == "close":
                            self._untrack(upstream)
                            _fin(upstream)
                            upstream, upstream_reader = None, None
                    with self._lock:
                        self.events.append(Event(request, fault, status))
                    if fault in (Fault.DROP_AFTER, Fault.DROP_BEFORE):
                        self._count("dropped")
                        return
                    if fault in (Fault.RESET_AFTER, Fault.RESET_BEFORE):
                        self._count("reset")
                        close_with = _rst
                        return
                    if fault is Fault.OK:
                        client.sendall(answer)
                    elif fault is Fault.DUPLICATE:
                        client.sendall(answer + answer)
                        self._count("duplicated")
                    elif fault is Fault.TRICKLE:
                        self._trickle(client, answer)
                        self._count("trickled")
                    else:
                        client.sendall(_injected(fault, request))
                        self._count("injected_429" if fault in RATE_LIMITS else "injected_5xx")
                finally:
                    with self._lock:
                        self._busy -= 1
        except (_Closed, _Unsupported, OSError):
            pass
        finally:
            close_with(client)
            self._untrack(client)
            if upstream is not None:
                self._untrack(upstream)
                _fin(upstream)

    def _trickle(self, client: socket.socket, answer: bytes) -> None:
        for start in range(0, len(answer), self.trickle_bytes):
            if self._stopping.wait(self.trickle_delay_s):
                raise _Closed
            client.sendall(answer[start : start + self.trickle_bytes])


__all__ = [
    "FORWARDED",
    "LOST_AFTER_FORWARDING",
    "NEVER_FORWARDED",
    "RATE_LIMITS",
    "Event",
    "Fault",
    "FaultProxy",
    "Plan",
    "ProxiedRequest",
    "mix",
]
