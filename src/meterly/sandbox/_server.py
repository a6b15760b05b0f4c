"""`Sandbox`: a `SandboxEngine` served over HTTP on 127.0.0.1, in a background thread."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Callable, Optional, Type

from meterly.sandbox._engine import DEFAULT_API_KEY, SandboxEngine, Seed
from meterly.sandbox._http import SandboxResponse

MAX_BODY_BYTES = 1 << 20


def _make_handler(
    engine: SandboxEngine, log: Optional[Callable[[str], None]]
) -> Type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "meterly-sandbox"
        sys_version = ""
        # Each answer leaves in one write (http.server flushes the buffer once per request), and with
        # Nagle's algorithm off: headers and body in separate segments would wait out the client's
        # delayed ACK (about 40 ms) on every call after the first on a keep-alive connection.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request is written by _answer instead, never with headers

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self.send_error(413)
                return
            body = self.rfile.read(length) if length > 0 else b""
            latency = engine.faults.latency_seconds
            if latency:
                time.sleep(latency)
            answer: SandboxResponse = engine.handle(self.command, self.path, dict(self.headers.items()), body)
            if log is not None:
                suffix = " (dropped)" if answer.drop else ""
                log(
                    f"{self.command} {self.path} {answer.status} {answer.headers.get('x-request-id')}{suffix}"
                )
            if answer.drop:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        def __getattr__(self, name: str) -> Any:
            # http.server answers 501 to a method without a do_<METHOD>; the engine answers 405 instead.
            if name.startswith("do_"):
                return self._answer
            raise AttributeError(name)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's backlog is 5: a test suite opening dozens of connections at once would see SYNs
    # dropped and retried a second later.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (its own timeout, a pool closing a kept-alive connection) is normal
        # for a test server; any other handler error is still printed.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class Sandbox:
    """Serves an engine on `http://127.0.0.1:<port>` while the `with` block runs (or between `start()` and
    `stop()`); `port=0` takes a free one. The engine is the demo unless `engine` or `seed` is given."""

    def __init__(
        self,
        engine: Optional[SandboxEngine] = None,
        seed: Optional[Seed] = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        log: Optional[Callable[[str], None]] = None,
    ) -> None:
        if engine is not None and seed is not None:
            raise ValueError("give an engine or a seed, not both")
        if engine is None:
            engine = SandboxEngine.from_seed(seed) if seed is not None else SandboxEngine.demo()
        self.engine = engine
        self._host = host
        self._port = port
        self._log = log
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        """The port served on (known once started)."""
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give the SDK as `server_url`."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; use it in a with block or call start()")
        return f"http://{self._host}:{self.port}"

    @property
    def api_key(self) -> str:
        """A key this sandbox accepts."""
        keys = self.engine.api_keys
        return DEFAULT_API_KEY if DEFAULT_API_KEY in keys or not keys else keys[0]

    def start(self) -> Sandbox:
        """Start serving in a background thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = _Server((self._host, self._port), _make_handler(self.engine, self._log))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="meterly-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait(self) -> None:
        """Block until the sandbox is stopped (from another thread) or the process is interrupted."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"Sandbox({state}, {self.engine!r})"


__all__ = ["Sandbox"]
