"""Security: keys never show up in logs (any level, any logger), reprs or exception messages; control
characters in ids, keys and header values are refused before I/O; a key about to cross the network in
clear text is warned about once; TLS verification is never switched off by the SDK."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import pathlib
import re
import ssl
from typing import Any

import httpx
import pytest

import meterly
from meterly import AsyncMeterly, FailOpenPolicy, Meterly, errors, models
from meterly._options import CallOptions
from meterly.utils import BackoffStrategy, RetryConfig
from tests.conftest import USAGE_BODY

from .faultserver import Fault, FaultServer, always, fault_server, script

KEY = "sk_live_SECRET_9f8e7d6c5b4a"
QUICK = RetryConfig(backoff=BackoffStrategy(initial_interval=1, max_interval=5, max_elapsed_time=400))
SRC = pathlib.Path(meterly.__file__).parent


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger (meterly, httpx, httpcore, asyncio...) at DEBUG and above."""
    caplog.set_level(logging.DEBUG)
    for name in ("meterly", "httpx", "httpcore", "asyncio", "debug"):
        caplog.set_level(logging.DEBUG, logger=name)  # restored by caplog when the test ends
    return caplog


def rendered(record: logging.LogRecord) -> str:
    """A record as a handler would write it, traceback included."""
    return logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)


def leaks(text: str) -> bool:
    return KEY in text or KEY[8:] in text  # the key, or a recognisable part of it


def exercise(server: FaultServer, debug: logging.Logger, **options: Any) -> list[Any]:
    """Calls both operations (and a raw call) a few times against `server`; returns every outcome."""
    outcomes: list[Any] = []
    with Meterly(api_key=KEY, server_url=server.url, timeout_ms=150, debug_logger=debug, **options) as sdk:
        for _ in range(4):
            for call in (
                lambda: sdk.balances.check(customer_id="c", feature_id="f", send_event=True),
                lambda: sdk.usage.check(customer_id="c", feature_code="f"),
                lambda: sdk.balances.with_raw_response.check(customer_id="c", feature_id="f"),
            ):
                try:
                    outcomes.append(call())
                except errors.MeterlyError as exc:
                    outcomes.append(exc)
    return outcomes


def test_keys_never_appear_in_any_log_record_at_any_level(
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    faults = itertools.cycle(
        [
            Fault.OK,
            Fault.DROP_AFTER_READ,
            Fault.ERROR_500,
            Fault.GARBAGE,
            Fault.RATE_LIMITED_429,
            Fault.TRUNCATED,
        ]
    )
    debug = logging.getLogger("debug")
    with fault_server(script(Fault.STALL, then=Fault.OK), stall_seconds=1) as server:
        outcomes = exercise(server, debug, retry_config=QUICK)
    with fault_server(lambda: next(faults)) as server:
        outcomes += exercise(server, debug, retry_config=QUICK)
    with fault_server(always(Fault.UNAVAILABLE_503)) as server:
        outcomes += exercise(server, debug, retry_config=None, fail_open=FailOpenPolicy(failure_threshold=2))
    assert any(isinstance(o, errors.MeterlyError) for o in outcomes)
    assert {getattr(o, "fallback_reason", None) for o in outcomes} >= {"server_error", "circuit_open"}
    records = everything_logged.records
    assert {r.name for r in records} >= {"meterly", "debug", "httpx"}
    assert {r.levelno for r in records} >= {logging.DEBUG, logging.INFO, logging.WARNING}
    offending = [rendered(r) for r in records if leaks(rendered(r))]
    assert offending == []


def test_a_key_echoed_by_the_server_is_redacted_from_messages_and_logs(
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": f"key {KEY} is revoked"}, headers={"x-request-id": "r1"})

    sdk = Meterly(
        api_key=KEY,
        client=httpx.Client(transport=httpx.MockTransport(echo)),
        debug_logger=logging.getLogger("debug"),
    )
    with pytest.raises(errors.AuthenticationError) as caught:
        sdk.balances.check(customer_id="c", feature_id="f")
    error = caught.value
    for text in (str(error), repr(error), error.message, *map(str, error.args)):
        assert not leaks(text)
    assert "[REDACTED]" in error.message
    assert not [r for r in everything_logged.records if leaks(rendered(r))]


def sdk_objects(api_key: Any) -> list[object]:
    """Every SDK object a user (or a debugger) can reach that might hold a key."""
    security = models.Security(bearer_auth=KEY, api_key_auth=KEY)
    sync = Meterly(api_key=api_key, security=security)
    async_ = AsyncMeterly(api_key=api_key)
    pipeline = sync._pipeline
    op = meterly.balances.BALANCES_CHECK
    call = pipeline.prepare(
        op,
        {**dict.fromkeys(param.name for param in op.params), "customer_id": "c", "feature_id": "f"},
        options=CallOptions(),
    )
    ctx = call.ctx  # the hook context of balances.check on the client's server
    return [
        sync,
        async_,
        sync.balances,
        sync.usage,
        async_.balances,
        sync._config,
        async_._config,
        pipeline,
        ctx,
        call,
        security,
        FailOpenPolicy(),
    ]


@pytest.mark.parametrize("api_key", [KEY, lambda: KEY], ids=["str", "callable"])
def test_keys_never_appear_in_the_repr_or_str_of_any_sdk_object(api_key: Any) -> None:
    for obj in sdk_objects(api_key):
        assert not leaks(repr(obj)), type(obj)
        assert not leaks(str(obj)), type(obj)


def test_http_objects_in_errors_and_raw_responses_never_show_the_key_in_a_repr() -> None:
    # httpx's own Headers repr hides `authorization` but not `x-api-key` (usage.check's header), nor
    # cookies: printing `exc.raw_response.request.headers` in a log or a notebook must not show the key.
    def answer(request: httpx.Request) -> httpx.Response:
        scenario = request.headers["x-scenario"]
        if scenario == "down":
            raise httpx.ConnectError("refused", request=request)
        if scenario == "ok":
            return httpx.Response(200, json=USAGE_BODY)
        return httpx.Response(403, json={"message": "no"}, headers={"set-cookie": f"session={KEY}"})

    sdk = Meterly(api_key=KEY, client=httpx.Client(transport=httpx.MockTransport(answer)), retry_config=None)
    shown: list[str] = []
    for scenario in ("forbidden", "down"):
        with pytest.raises(errors.MeterlyError) as caught:
            sdk.usage.check(customer_id="c", feature_code="api_calls", http_headers={"x-scenario": scenario})
        error = caught.value
        if error.raw_response is not None:
            request_headers = error.raw_response.request.headers
            shown += [repr(error.headers), repr(error.raw_response.headers), repr(request_headers)]
        else:
            assert isinstance(error.__cause__, httpx.RequestError)
            request_headers = error.__cause__.request.headers
            shown.append(repr(request_headers))
        assert request_headers["x-api-key"] == KEY  # hidden from reprs, still there to read
    ok = {"x-scenario": "ok"}
    raw = sdk.usage.with_raw_response.check(customer_id="c", feature_code="api_calls", http_headers=ok)
    shown += [repr(raw.headers), repr(raw.http_response.request.headers)]
    assert len(shown) == 6
    assert [text for text in shown if leaks(text)] == []
    assert "'x-api-key': '[REDACTED]'" in shown[2]


def test_exception_messages_never_carry_the_key_even_when_the_key_is_the_problem() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={}))
    for bad in (KEY + "\r\nX-Evil: 1", KEY + "é", KEY + "\x00"):
        sdk = Meterly(api_key=bad, client=httpx.Client(transport=transport))
        with pytest.raises(errors.RequestValidationError) as caught:
            sdk.balances.check(customer_id="c", feature_id="f")
        assert caught.value.param == "api_key"
        assert not leaks(str(caught.value))
        assert not leaks(repr(caught.value))


# -- control characters -----------------------------------------------------------------------------

BAD_CHARS = ["\r\n", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\ud800"]


class Counting:
    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(200, json={"allowed": True, "customer_id": "c", "balance": None})


def bad_calls(bad: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(param the error must name, client kwargs, balances.check kwargs) with `bad` in one place."""
    good = {"customer_id": "c", "feature_id": "f"}
    return [
        ("customer_id", {}, {**good, "customer_id": f"cus{bad}1"}),
        ("feature_id", {}, {**good, "feature_id": f"f{bad}"}),
        ("entity_id", {}, {**good, "entity_id": f"{bad}e"}),
        ("idempotency_key", {}, {**good, "idempotency_key": f"k{bad}k"}),
        ("http_headers", {}, {**good, "http_headers": {"x-trace": f"t{bad}x"}}),
        ("http_headers", {}, {**good, "http_headers": {f"x{bad}y": "v"}}),
        ("server_url", {}, {**good, "server_url": f"https://a.example{bad}"}),
        ("api_key", {"api_key": f"sk{bad}x"}, good),
        ("api_key", {"api_key": lambda: f"sk{bad}x"}, good),
        ("api_key", {"security": models.Security(bearer_auth=f"sk{bad}x")}, good),
    ]


@pytest.mark.parametrize("bad", BAD_CHARS, ids=repr)
def test_control_characters_anywhere_are_refused_before_any_io(bad: str) -> None:
    for param, client_kwargs, call_kwargs in bad_calls(bad):
        counting = Counting()
        sdk = Meterly(
            client=httpx.Client(transport=httpx.MockTransport(counting)),
            **{"api_key": "sk_ok", **client_kwargs},
        )
        with pytest.raises(errors.RequestValidationError) as caught:
            sdk.balances.check(**call_kwargs)
        assert caught.value.param == param, (param, call_kwargs)
        assert counting.requests == 0


@pytest.mark.parametrize("bad", BAD_CHARS, ids=repr)
def test_control_characters_in_usage_check_ids_are_refused(bad: str) -> None:
    counting = Counting()
    sdk = Meterly(api_key="sk_ok", client=httpx.Client(transport=httpx.MockTransport(counting)))
    for param in ("customer_id", "feature_code"):
        kwargs = {"customer_id": "c", "feature_code": "f", param: f"x{bad}"}
        with pytest.raises(errors.RequestValidationError) as caught:
            sdk.usage.check(**kwargs)
        assert caught.value.param == param
    assert counting.requests == 0


@pytest.mark.parametrize("bad", ["\r\n", "\x00", "\ud800"], ids=repr)
def test_control_characters_in_a_client_server_url_are_refused_at_construction(bad: str) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        Meterly(api_key="sk", server_url=f"https://api.example{bad}")
    assert caught.value.param == "server_url"


# -- plain http ------------------------------------------------------------------------------------


def test_a_key_sent_over_plain_http_off_the_machine_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    sdk = Meterly(
        api_key=KEY,
        server_url="http://billing.internal",
        client=httpx.Client(transport=httpx.MockTransport(Counting())),
    )
    with caplog.at_level(logging.WARNING, logger="meterly"):
        for _ in range(3):
            sdk.balances.check(customer_id="c", feature_id="f")
            with pytest.raises(errors.ResponseValidationError):  # the mock answers a balances body
                sdk.usage.check(customer_id="c", feature_code="f")
    (warning,) = [r for r in caplog.records if r.name == "meterly"]
    assert "plain http" in warning.getMessage()
    assert "billing.internal" in warning.getMessage()
    assert not leaks(warning.getMessage())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:9000",
        "http://[::1]:80",
        "http://127.9.9.9",
        "https://billing.internal",
    ],
)
def test_loopback_or_https_servers_do_not_warn(url: str, caplog: pytest.LogCaptureFixture) -> None:
    sdk = Meterly(api_key=KEY, server_url=url, client=httpx.Client(transport=httpx.MockTransport(Counting())))
    with caplog.at_level(logging.WARNING, logger="meterly"):
        sdk.balances.check(customer_id="c", feature_id="f")
    assert [r for r in caplog.records if r.name == "meterly"] == []


def test_a_per_call_plain_http_server_url_warns_too(caplog: pytest.LogCaptureFixture) -> None:
    sdk = Meterly(api_key=KEY, client=httpx.Client(transport=httpx.MockTransport(Counting())))
    with caplog.at_level(logging.WARNING, logger="meterly"):
        sdk.balances.check(customer_id="c", feature_id="f", server_url="http://10.0.0.7")
        sdk.balances.check(customer_id="c", feature_id="f", server_url="http://10.0.0.7")
    assert len([r for r in caplog.records if "plain http" in r.getMessage()]) == 1


# -- TLS -------------------------------------------------------------------------------------------


def verifies(client: httpx.Client | httpx.AsyncClient) -> bool:
    context: ssl.SSLContext = client._transport._pool._ssl_context  # type: ignore[attr-defined]
    return context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


INSECURE_ENV = {
    "PYTHONHTTPSVERIFY": "0",
    "CURL_CA_BUNDLE": "",
    "METERLY_INSECURE": "1",
    "METERLY_VERIFY": "false",
    "METERLY_SSL_VERIFY": "0",
}


def test_sdk_owned_clients_always_verify_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in INSECURE_ENV.items():
        monkeypatch.setenv(name, value)
    sdk = Meterly(api_key=KEY)
    assert verifies(sdk._http())
    async_sdk = AsyncMeterly(api_key=KEY)

    async def pool() -> httpx.AsyncClient:
        return async_sdk._http()

    assert verifies(asyncio.run(pool()))
    assert verifies(asyncio.run(pool()))  # a new loop's pool verifies too
    sdk.close()


def test_no_constructor_option_turns_tls_verification_off() -> None:
    for cls in (Meterly, AsyncMeterly):
        names = set(inspect.signature(cls).parameters)
        assert not names & {"verify", "verify_ssl", "insecure", "ssl", "cert_reqs", "ssl_context"}


def test_the_sdk_source_never_disables_verification() -> None:
    pattern = re.compile(
        r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context|ssl\s*=\s*False"
    )
    offending = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offending == []


def test_only_an_injected_client_decides_its_own_tls_settings() -> None:
    injected = httpx.Client(verify=False)  # the user's explicit choice, on the user's client
    sdk = Meterly(api_key=KEY, client=injected)
    assert sdk._http() is injected
    assert not verifies(injected)
    sdk.close()
    injected.close()
