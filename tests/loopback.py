"""A real HTTP server on 127.0.0.1 that records the exact requests it gets and answers as each test
scripts: for what the sandbox can't do (inspect the bytes and headers sent, answer a scripted status,
echo a key back, stall); a test that only needs the service uses `meterly.sandbox`."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

Answer = tuple[int, dict[str, str], bytes]

_RESERVED: list[socket.socket] = []
"""Bound, never listening sockets: their ports refuse connections, and no server started later (in this
process or another) can be given one of them, as it could a port that was only probed and let go."""


def refused_url() -> str:
    """A loopback URL on which nothing listens (connections are refused) for the life of this process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _RESERVED.append(sock)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
"""What a handler gets when the client went away before the answer was written: a test whose client timed
out, or closed its pool, on purpose."""

log = logging.getLogger("tests.loopback")


class QuietDisconnects:
    """A socketserver mixin: a client that hung up is logged at DEBUG, not printed as a traceback to stderr
    (where a passing run would show "Exception occurred during processing of request"); any other
    exception in a handler is still printed by socketserver's `handle_error`."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, DISCONNECTS):
            log.debug("client %s hung up before the answer was written: %r", client_address, error)
            return
        super().handle_error(request, client_address)  # type: ignore[misc]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    """Answers each POST with `respond(received)`; records what it received."""

    respond: Callable[[Received], Optional[Answer]]
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def json(self, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> Answer:
        return status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()


@contextmanager
def serve(respond: Callable[[Received], Optional[Answer]]) -> Iterator[LoopbackServer]:
    """Serve on a free loopback port until the block ends. `respond` returning None drops the connection."""
    server_state = LoopbackServer(respond)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            received = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            with lock:
                server_state.received.append(received)
            answer = server_state.respond(received)
            if answer is None:
                self.close_connection = True
                return
            status, headers, body = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(QuietDisconnects, ThreadingHTTPServer):
        request_queue_size = 128  # socketserver's 5 drops SYNs when dozens of connections open at once

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
