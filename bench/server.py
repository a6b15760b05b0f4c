"""A fixed-cost loopback server answering every request with one canned check, for the benchmarks.

`canned_server()` starts nginx (Debian's `nginx` / `nginx-light`) with a temporary config when it is
installed, else a small asyncio server in a child process; it yields `(url, name)` and stops what it
started. Run alone (`python bench/server.py`) it serves until interrupted and prints its URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator, Tuple

from meterly.models.checkresponse import BALANCE_EXAMPLE  # the seed page's example balance

CHECK_BODY = json.dumps(
    {"allowed": True, "customer_id": "cus_123", "required_balance": 1, "balance": BALANCE_EXAMPLE},
    separators=(",", ":"),
).encode()
"""The body every request gets: a realistic `balances.check` answer."""

AUTH = {"authorization": "Bearer sk_bench", "x-api-version": "2.1"}
"""The headers a raw call sends: what Autumn needs to answer a check, Bearer auth and the API version it
requires on every request (`x-api-version`, ../shared/UPSTREAM.md). A raw call without the version would
be refused by the real service, so the baseline would not be doing the SDK's job."""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location / {{
            default_type application/json;
            add_header x-request-id req_bench;
            return 200 '{body}';
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError("the server did not start listening in time")


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )


@contextlib.contextmanager
def canned_server(prefer: str = "nginx") -> Iterator[Tuple[str, str]]:
    """Start the loopback server; yields its base URL and a description of what serves it."""
    port = free_port()
    nginx = find_nginx() if prefer == "nginx" else None
    with tempfile.TemporaryDirectory(prefix="meterly-bench-") as tmp:
        if nginx:
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(dir=tmp, port=port, body=CHECK_BODY.decode()))
            cmd = [nginx, "-c", conf, "-p", tmp, "-e", os.path.join(tmp, "error.log")]
            version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
            name = f"{version.replace('nginx version: ', '')} (1 worker, temp config)"
        else:
            cmd = [sys.executable, os.path.abspath(__file__), "--asyncio", str(port)]
            name = "python asyncio canned server (nginx not installed)"
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        try:
            wait_listening(port, proc)
            yield f"http://127.0.0.1:{port}", name
        finally:
            proc.send_signal(signal.SIGTERM if nginx is None else signal.SIGQUIT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve_asyncio(port: int) -> None:
    """The fallback: a keep-alive HTTP/1.1 server that answers each request with CHECK_BODY."""
    import asyncio

    response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(CHECK_BODY), CHECK_BODY)
    )

    class Canned(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end].lower()
                length = 0
                at = head.find(b"content-length:")
                if at >= 0:
                    length = int(head[at + 15 :].split(b"\r\n", 1)[0])
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                self.transport.write(response)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Canned, "127.0.0.1", port, backlog=1024)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--asyncio":
        serve_asyncio(int(sys.argv[2]))
    else:
        with canned_server(prefer="asyncio" if "--asyncio" in sys.argv else "nginx") as (url, name):
            print(f"{url} served by {name}; Ctrl-C stops it", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
