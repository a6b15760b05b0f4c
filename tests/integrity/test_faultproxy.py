"""The fault proxy itself, driven by a plain httpx client (no SDK, no retries): each fault does to the
client and to the sandbox's ledger what `tests/faultproxy.py` says, the random plan is reproducible,
and the proxy stops cleanly, by itself too."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from meterly.sandbox import COMMET_API_KEY
from tests.faultproxy import FORWARDED, RATE_LIMITS, Fault, FaultProxy, ProxiedRequest, mix

from .harness import ledger, served

TRACK_BODY = {"customerId": "cus_pro", "featureCode": "api_calls", "value": 1}


def track(client: httpx.Client, url: str, key: str) -> httpx.Response:
    return client.post(
        f"{url}/v1/usage/events",
        content=json.dumps(TRACK_BODY).encode(),
        headers={"x-api-key": COMMET_API_KEY, "idempotency-key": key, "content-type": "application/json"},
    )


@pytest.mark.parametrize("fault", list(Fault), ids=[f.value for f in Fault])
def test_each_fault_reaches_the_upstream_or_not_and_answers_as_declared(fault: Fault) -> None:
    with served() as sandbox, FaultProxy(sandbox.url, script=[fault], trickle_delay_s=0.001) as proxy:
        with httpx.Client(transport=httpx.HTTPTransport(retries=0), timeout=5) as client:
            try:
                response: httpx.Response | None = track(client, proxy.url, "k-1")
            except httpx.TransportError:
                response = None
        proxy.settle()
        recorded = ledger(sandbox).times_recorded("k-1")
    assert recorded == (1 if fault in FORWARDED else 0)
    assert proxy.counts["forwarded"] == (1 if fault in FORWARDED else 0)
    [event] = proxy.events
    assert (event.fault, event.request.headers["idempotency-key"]) == (fault, "k-1")
    if fault in (Fault.DROP_AFTER, Fault.DROP_BEFORE, Fault.RESET_AFTER, Fault.RESET_BEFORE):
        assert response is None
        return
    assert response is not None
    if fault.answers_truthfully:
        assert (response.status_code, response.json()["data"]["featureCode"]) == (200, "api_calls")
    elif fault in RATE_LIMITS:
        assert response.status_code == 429
        assert "retry-after" in response.headers or "retry-after-ms" in response.headers
        assert response.json()["error"]["code"] == "rate_limit_exceeded"  # Commet's envelope on its route
    else:
        assert response.status_code == {"503_before": 503, "500_after": 500, "502_after": 502}[fault.value]


def test_a_duplicated_answer_waits_on_the_connection_for_the_next_request() -> None:
    with served() as sandbox, FaultProxy(sandbox.url, script=[Fault.DUPLICATE]) as proxy:
        with httpx.Client(transport=httpx.HTTPTransport(retries=0), timeout=5) as client:
            first = track(client, proxy.url, "k-1")
            second = track(client, proxy.url, "k-2")  # same kept-alive connection: reads the extra copy
        proxy.settle()
        recorded = ledger(sandbox).recorded()
    assert first.json() == second.json()
    assert (recorded["k-1"], recorded["k-2"]) == (1, 1)
    assert proxy.counts["duplicated"] == 1


def test_a_trickled_answer_takes_its_time() -> None:
    with (
        served() as sandbox,
        FaultProxy(sandbox.url, script=[Fault.TRICKLE], trickle_bytes=64, trickle_delay_s=0.02) as proxy,
        httpx.Client(transport=httpx.HTTPTransport(retries=0), timeout=5) as client,
    ):
        started = time.monotonic()
        response = track(client, proxy.url, "k-1")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= (len(response.content) // 64) * 0.02


def test_the_rate_limits_carry_odd_retry_after_values() -> None:
    with served() as sandbox, FaultProxy(sandbox.url, script=list(RATE_LIMITS)) as proxy:
        with httpx.Client(transport=httpx.HTTPTransport(retries=0), timeout=5) as client:
            answers = [track(client, proxy.url, f"k-{n}") for n in range(len(RATE_LIMITS))]
        proxy.settle()
        recorded = ledger(sandbox).recorded()
    values = [(a.headers.get("retry-after"), a.headers.get("retry-after-ms")) for a in answers]
    assert values[:3] == [("0", None), ("-5", None), ("86400", None)]
    assert values[3][0] is not None
    assert values[3][0].endswith(" GMT")
    assert values[4:] == [("soon", None), ("3600", "40")]
    assert sum(recorded.values()) == 0


def test_a_seeded_mix_gives_each_request_number_the_same_fault() -> None:
    weights = {fault: 1.0 for fault in Fault}
    requests = [ProxiedRequest(n, 0, "POST", "/", {}, b"") for n in range(500)]
    first = [mix(7, weights)(r) for r in requests]
    assert first == [mix(7, weights)(r) for r in reversed(requests)][::-1]
    assert first != [mix(8, weights)(r) for r in requests]
    assert set(first) == set(Fault)


def test_a_chunked_request_is_refused_not_misframed() -> None:
    with served() as sandbox, FaultProxy(sandbox.url) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/usage/events HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
            )
            answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 501")
    assert proxy.counts["requests"] == 0


def test_the_proxy_stops_by_itself_and_closes_its_connections() -> None:
    with served() as sandbox:
        proxy = FaultProxy(sandbox.url, lifetime_s=0.3).start()
        with httpx.Client(transport=httpx.HTTPTransport(retries=0), timeout=5) as client:
            assert track(client, proxy.url, "k-1").status_code == 200  # a kept-alive connection is open
            time.sleep(0.6)
            with pytest.raises(httpx.TransportError):
                track(client, proxy.url, "k-2")
        proxy.stop()  # idempotent
    assert ledger(sandbox).recorded()["k-2"] == 0
