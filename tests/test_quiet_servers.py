"""A passing run prints no "Exception occurred during processing of request": the test servers take a
client that hung up quietly, and still print every other failure of a handler."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .loopback import QuietDisconnects, Received, serve

NOISE = "Exception occurred during processing of request"


def test_a_client_that_hangs_up_mid_answer_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    answered = threading.Event()

    def slow(received: Received) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.3)  # the client is gone by now: writing the answer breaks the pipe
        answered.set()
        return 200, {"content-type": "application/json"}, b"{}" * 100_000

    with serve(slow) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        assert answered.wait(timeout=10)
        time.sleep(0.2)  # the handler's write fails after `respond` returns
    assert NOISE not in capfd.readouterr().err


def test_any_other_handler_failure_is_still_printed(capfd: pytest.CaptureFixture[str]) -> None:
    class Failing(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            raise RuntimeError("a real bug in the handler")

    class Server(QuietDisconnects, ThreadingHTTPServer):
        pass

    httpd = Server(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with socket.create_connection(httpd.server_address[:2]) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(1024) == b""  # the server closed the connection without an answer
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    err = capfd.readouterr().err
    assert NOISE in err
    assert "RuntimeError: a real bug in the handler" in err
