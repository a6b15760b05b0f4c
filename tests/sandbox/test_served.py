"""The served sandbox over a real socket (sync and async), the command line, and import isolation."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors
from meterly.sandbox import DEFAULT_API_KEY, Sandbox, SandboxEngine
from meterly.sandbox.__main__ import main
from meterly.utils import BackoffStrategy, RetryConfig

from .conftest import SEED

SOCKET_RETRIES = RetryConfig(
    backoff=BackoffStrategy(initial_interval=1, max_interval=5, max_elapsed_time=2_000)
)
"""Quick retries with room for the first attempt: over a real socket, on a loaded machine running
several test workers, a first call (its client's pool and connection included) took more than the
150 ms budget of `FAST_RETRIES`, and the lost answer was never asked for again."""


def test_sandbox_serves_on_a_free_loopback_port() -> None:
    with Sandbox() as sb:
        assert sb.url.startswith("http://127.0.0.1:")
        assert sb.port > 0
        assert sb.api_key == DEFAULT_API_KEY
        with Meterly(api_key=sb.api_key, server_url=sb.url) as client:
            res = client.balances.check(customer_id="cus_pro", feature_id="messages")
        assert res.allowed is True
        assert res.balance is not None
        assert res.balance.remaining == 72
    with pytest.raises(RuntimeError):
        _ = sb.url


def test_sandbox_from_a_seed_serves_that_seed(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED))
    with Sandbox(seed=path) as sb, Meterly(api_key=sb.api_key, server_url=sb.url) as client:
        assert client.usage.check(customer_id="cus_wallet", feature_code="sms", quantity=10).allowed
        with pytest.raises(errors.NotFoundError):
            client.usage.check(customer_id="cus_free", feature_code="messages")


def test_engine_and_seed_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        Sandbox(engine=SandboxEngine.demo(), seed=SEED)


async def test_async_client_over_a_socket_retries_a_lost_answer_once() -> None:
    engine = SandboxEngine.from_seed(SEED)
    with Sandbox(engine) as sb:
        engine.faults.drop_next()
        async with AsyncMeterly(api_key=sb.api_key, server_url=sb.url, retry_config=SOCKET_RETRIES) as client:
            # Commet's track: deduplicated by Idempotency-Key, so the lost answer is asked for again.
            res = await client.usage.track(customer_id="cus_basic", feature_code="messages")
            usage = await client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=2)
    assert res.customer_id == "cus_basic"
    assert usage.consumption_model == "metered"
    assert [c.dropped for c in engine.history][:2] == [True, False]
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_sync_client_over_a_socket_retries_a_lost_answer_once() -> None:
    engine = SandboxEngine.from_seed(SEED)
    with Sandbox(engine) as sb:
        engine.faults.drop_next()
        with Meterly(api_key=sb.api_key, server_url=sb.url, retry_config=SOCKET_RETRIES) as client:
            res = client.usage.track(customer_id="cus_basic", feature_code="messages")
    assert res.customer_id == "cus_basic"
    assert [c.dropped for c in engine.history] == [True, False]
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


async def test_async_client_over_a_socket_records_a_commet_event_once_after_a_lost_answer() -> None:
    engine = SandboxEngine.from_seed(SEED)
    with Sandbox(engine) as sb:
        engine.faults.drop_next()
        async with AsyncMeterly(api_key=sb.api_key, server_url=sb.url, retry_config=SOCKET_RETRIES) as client:
            event = await client.usage.track(customer_id="cus_basic", feature_code="messages")
    assert event.value == 1
    assert [(c.dropped, c.replayed) for c in engine.history] == [(True, False), (False, True)]
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_sync_client_over_a_socket_records_a_commet_event_once_after_a_lost_answer() -> None:
    engine = SandboxEngine.from_seed(SEED)
    with Sandbox(engine) as sb:
        engine.faults.drop_next()
        with Meterly(api_key=sb.api_key, server_url=sb.url, retry_config=SOCKET_RETRIES) as client:
            event = client.usage.track(customer_id="cus_basic", feature_code="messages")
    assert event.value == 1
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_concurrent_requests_over_sockets_never_overspend() -> None:
    engine = SandboxEngine.from_seed(SEED)
    allowed: list[bool] = []
    lock = threading.Lock()
    with Sandbox(engine) as sb, Meterly(api_key=sb.api_key, server_url=sb.url) as client:

        def spend() -> None:
            for _ in range(4):
                res = client.balances.check(customer_id="cus_basic", feature_id="messages", send_event=True)
                with lock:
                    allowed.append(res.allowed)

        threads = [threading.Thread(target=spend) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert allowed.count(True) == 10
    assert engine.balance("cus_basic", "messages")["usage"] == 10  # type: ignore[index]


def test_other_methods_over_a_socket_are_405_with_a_request_id() -> None:
    with Sandbox() as sb:
        for method in ("GET", "TRACE", "HEAD", "DELETE"):
            answer = httpx.request(method, sb.url + "/v1/balances.check")
            assert answer.status_code == 405
            assert answer.headers["x-request-id"]


def test_cli_prints_the_demo_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-demo-seed"]) == 0
    assert "cus_pro" in json.loads(capsys.readouterr().out)["customers"][1]["id"]


def test_cli_refuses_a_broken_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "seed.json"
    path.write_text('{"customerz": []}')
    assert main(["--seed", str(path), "--port", "0"]) == 2
    assert "customerz" in capsys.readouterr().err


def test_cli_serves_a_seed_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED))
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterly.sandbox", "--port", "0", "--seed", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.split("listening on ")[1].split()[0]
        with Meterly(api_key=DEFAULT_API_KEY, server_url=url) as client:
            assert client.balances.check(customer_id="cus_basic", feature_id="messages").allowed
        assert "/v1/balances.check 200" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _serve(*options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "meterly.sandbox", "--port", "0", "--quiet", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _url_of(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return line.split("listening on ")[1].split()[0]


def test_cli_serves_rate_limits_in_each_services_words() -> None:
    proc = _serve("--outage", "--error-status", "429", "--retry-after", "2")
    try:
        url = _url_of(proc)
        autumn = httpx.post(
            url + "/v1/balances.check",
            json={"customer_id": "cus_pro", "feature_id": "messages"},
            headers={"authorization": f"Bearer {DEFAULT_API_KEY}"},
        )
        commet = httpx.post(
            url + "/api/v1/usage/check",
            json={"customerId": "cus_pro", "featureCode": "api_calls"},
            headers={"x-api-key": "ck_test_sandbox"},
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (autumn.status_code, autumn.json()["code"], autumn.headers["retry-after"]) == (
        429,
        "rate_limit_exceeded",
        "2",
    )
    assert (commet.status_code, commet.json()["error"]["code"], commet.headers["retry-after"]) == (
        429,
        "rate_limited",
        "2",
    )


def test_cli_serves_autumns_degraded_202() -> None:
    proc = _serve("--degraded")
    try:
        with Meterly(api_key=DEFAULT_API_KEY, server_url=_url_of(proc)) as client:
            res = client.balances.check(customer_id="cus_pro", feature_id="messages")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (res.allowed, res.is_degraded, res.balance) == (True, True, None)


def test_cli_refuses_a_negative_retry_after(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--retry-after", "-1", "--port", "0"]) == 2
    assert "--retry-after" in capsys.readouterr().err


def test_importing_meterly_does_not_import_the_sandbox() -> None:
    code = "import sys, meterly; print('meterly.sandbox' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_sandbox_adds_only_standard_library_modules_to_the_sdk() -> None:
    code = (
        "import sys, meterly, httpx; before = set(sys.modules); import meterly.sandbox; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(new - set(sys.stdlib_module_names) - {'meterly'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
