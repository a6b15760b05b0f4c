"""`Sandbox` answers a test suite fast: no delayed-ACK stall on keep-alive connections (one write per
answer, TCP_NODELAY), and no dropped connection when dozens arrive at once (a listen backlog of 1024).

Targets (`python bench/sandbox.py`): median keep-alive check <= 3 ms, slowest of 48 new connections at
once <= 400 ms. The bounds here are loose for a shared machine yet below what the faults cost: a stalled
second write costs ~40 ms per call, and a dropped SYN is resent only after 1 s.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

from meterly import Meterly
from meterly.sandbox import Sandbox


def test_sequential_checks_on_one_keep_alive_connection_take_milliseconds() -> None:
    with Sandbox() as sb, Meterly(api_key=sb.api_key, server_url=sb.url, retry_config=None) as client:
        client.balances.check(customer_id="cus_pro", feature_id="messages")
        took = []
        for _ in range(100):
            started = time.perf_counter()
            client.balances.check(customer_id="cus_pro", feature_id="messages")
            took.append(time.perf_counter() - started)
    assert statistics.median(took) <= 0.015


def test_48_checks_on_48_new_connections_at_once_all_answer_well_within_a_second() -> None:
    with Sandbox() as sb:
        clients = [
            Meterly(api_key=sb.api_key, server_url=sb.url, retry_config=None, timeout_ms=10_000)
            for _ in range(48)
        ]
        clients[0].balances.check(customer_id="cus_pro", feature_id="messages")  # the model compiles here
        clients[0].close()
        clients[0] = Meterly(api_key=sb.api_key, server_url=sb.url, retry_config=None, timeout_ms=10_000)
        for client in clients:
            client._http()  # its pool (and TLS context) now, its connection in the timed call
        barrier = threading.Barrier(len(clients))
        took = [10.0] * len(clients)

        def one(i: int) -> None:
            barrier.wait()
            started = time.perf_counter()
            clients[i].balances.check(customer_id="cus_pro", feature_id="messages")
            took[i] = time.perf_counter() - started

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        for client in clients:
            client.close()
    assert max(took) <= 0.9


def test_each_answer_on_a_keep_alive_connection_arrives_whole_at_the_first_read() -> None:
    body = '{"customer_id":"cus_pro","feature_id":"messages"}'
    with Sandbox() as sb, socket.create_connection(("127.0.0.1", sb.port)) as sock:
        request = (
            "POST /v1/balances.check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {sb.api_key}\r\ncontent-length: {len(body)}\r\n\r\n{body}"
        ).encode()
        sock.settimeout(5)
        for _ in range(5):
            sock.sendall(request)
            first = sock.recv(65536)  # what one write put on the wire, not the rest of the answer
            head, _, rest = first.partition(b"\r\n\r\n")
            fields = {k.lower(): v for k, v in (line.split(b": ", 1) for line in head.split(b"\r\n")[1:])}
            assert head.startswith(b"HTTP/1.1 200")
            assert len(rest) == int(fields[b"content-length"])
