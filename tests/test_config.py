"""Client construction: keys, env vars, servers, injected clients, lifecycle, and secrets in reprs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from meterly import SERVERS, AsyncMeterly, Meterly, errors, models

from .conftest import API_KEY, ok_any, ok_check


def recording_client() -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok_any(request)

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METERLY_API_KEY", raising=False)
    monkeypatch.delenv("METERLY_SERVER_URL", raising=False)


def check(sdk: Meterly, **kwargs: Any) -> models.CheckResponse:
    return sdk.balances.check(customer_id="c", feature_id="f", **kwargs)


def test_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERLY_API_KEY", "sk_from_env")
    http, seen = recording_client()
    check(Meterly(client=http))
    assert seen[0].headers["authorization"] == "Bearer sk_from_env"


def test_explicit_api_key_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERLY_API_KEY", "sk_from_env")
    http, seen = recording_client()
    check(Meterly(api_key="sk_explicit", client=http))
    assert seen[0].headers["authorization"] == "Bearer sk_explicit"


def test_a_missing_key_is_a_clear_error_at_the_first_call_not_before() -> None:
    http, seen = recording_client()
    sdk = Meterly(client=http)
    with pytest.raises(errors.RequestValidationError) as info:
        check(sdk)
    assert info.value.param == "api_key"
    assert "api_key" in str(info.value)
    assert "METERLY_API_KEY" in str(info.value)
    assert seen == []


def test_callable_key_is_called_for_every_call() -> None:
    keys = iter(["sk_one", "sk_two"])
    http, seen = recording_client()
    sdk = Meterly(api_key=lambda: next(keys), client=http)
    check(sdk)
    check(sdk)
    assert [r.headers["authorization"] for r in seen] == ["Bearer sk_one", "Bearer sk_two"]


def test_security_gives_each_scheme_its_own_key() -> None:
    http, seen = recording_client()
    sdk = Meterly(security=models.Security(bearer_auth="sk_bearer", api_key_auth="sk_header"), client=http)
    check(sdk)
    sdk.usage.check(customer_id="c", feature_code="f")
    assert seen[0].headers["authorization"] == "Bearer sk_bearer"
    assert seen[1].headers["x-api-key"] == "sk_header"


def test_a_scheme_security_leaves_unset_falls_back_to_api_key() -> None:
    http, seen = recording_client()
    sdk = Meterly(api_key="sk_shared", security=models.Security(bearer_auth="sk_bearer"), client=http)
    check(sdk)
    sdk.usage.check(customer_id="c", feature_code="f")
    assert seen[0].headers["authorization"] == "Bearer sk_bearer"
    assert seen[1].headers["x-api-key"] == "sk_shared"


def test_security_may_be_a_callable() -> None:
    http, seen = recording_client()
    check(Meterly(security=lambda: models.Security(bearer_auth="sk_dyn"), client=http))
    assert seen[0].headers["authorization"] == "Bearer sk_dyn"


@pytest.mark.parametrize("key", ["sk\nInjected: 1", "sk\r", 12345])
def test_keys_with_control_characters_or_wrong_type_are_rejected(key: Any) -> None:
    http, seen = recording_client()
    with pytest.raises(errors.RequestValidationError) as info:
        check(Meterly(api_key=lambda: key, client=http))
    assert info.value.param == "api_key"
    assert seen == []


def test_default_server_and_server_idx() -> None:
    assert SERVERS == ["https://api.meterly.dev"]
    assert Meterly(api_key="k").server_url == "https://api.meterly.dev"
    assert Meterly(api_key="k", server_idx=0).server_url == SERVERS[0]
    with pytest.raises(errors.RequestValidationError, match="server_idx"):
        Meterly(api_key="k", server_idx=1)


def test_server_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERLY_SERVER_URL", "http://127.0.0.1:8787/")
    assert Meterly(api_key="k").server_url == "http://127.0.0.1:8787"
    assert Meterly(api_key="k", server_url="https://x.dev").server_url == "https://x.dev"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"server_url": "api.meterly.dev"}, "server_url"),
        ({"timeout_ms": -5}, "timeout_ms"),
        ({"retry_config": 3}, "retry_config"),
        ({"fail_open": "yes"}, "fail_open"),
        ({"api_key": 42}, "api_key"),
        ({"security": {"bearer_auth": "x"}}, "security"),
        ({"client": httpx.AsyncClient()}, "client"),
    ],
)
def test_bad_constructor_arguments_are_rejected(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.RequestValidationError) as info:
        Meterly(**kwargs)
    assert info.value.param == param


def test_async_client_rejects_a_sync_httpx_client() -> None:
    with pytest.raises(errors.RequestValidationError, match="client"):
        AsyncMeterly(api_key="k", client=httpx.Client())


def test_injected_client_is_never_closed() -> None:
    http, _ = recording_client()
    with Meterly(api_key="k", client=http) as sdk:
        check(sdk)
    assert not http.is_closed
    check(Meterly(api_key="k", client=http))


def test_injected_async_client_is_never_closed() -> None:
    async def go() -> bool:
        http = httpx.AsyncClient(transport=httpx.MockTransport(ok_check))
        async with AsyncMeterly(api_key="k", client=http) as sdk:
            await sdk.balances.check(customer_id="c", feature_id="f")
        closed = http.is_closed
        await http.aclose()
        return closed

    assert asyncio.run(go()) is False


def test_sdk_owned_client_is_closed_with_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk = Meterly(api_key="k")
    http = sdk._http()
    assert sdk._http() is http  # built once, then reused
    with sdk:
        pass
    assert http.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        check(sdk)


def test_sdk_owned_async_client_is_closed_with_the_sdk() -> None:
    async def go() -> tuple[bool, bool]:
        sdk = AsyncMeterly(api_key="k")
        http = sdk._http()
        same = sdk._http() is http
        async with sdk:
            pass
        return same, http.is_closed

    assert asyncio.run(go()) == (True, True)


def test_sdk_owned_clients_get_a_default_timeout() -> None:
    assert Meterly(api_key="k")._http().timeout.read == 1.0


def test_no_key_appears_in_any_repr() -> None:
    sdk = Meterly(api_key=API_KEY, security=models.Security(bearer_auth=API_KEY))
    for obj in (sdk, sdk._config, sdk._pipeline.config, sdk.balances, sdk.usage):
        assert API_KEY not in repr(obj)
        assert API_KEY not in str(obj)
    assert API_KEY not in repr(AsyncMeterly(api_key=API_KEY))


def test_a_client_whose_constructor_rejected_an_argument_still_has_a_repr() -> None:
    # Tracebacks show the half-built object; its repr must not raise an AttributeError of its own.
    for cls in (Meterly, AsyncMeterly):
        half_built = cls.__new__(cls)
        with pytest.raises(errors.RequestValidationError):
            half_built.__init__(api_key="k", client=object())  # type: ignore[arg-type,misc]
        assert repr(half_built) == f"{cls.__name__}(server_url=None)"
