"""Speaking the real services' contracts: version headers, a server per resource, and Autumn's 202."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors
from meterly._endpoints._services import AUTUMN_API_VERSION, COMMET_API_VERSION
from tests.loopback import LoopbackServer, Received, serve

from .conftest import API_KEY, CHECK_BODY, Harness, json_response, ok_any

Make = Callable[..., Harness]


# -- version headers ---------------------------------------------------------------------------------


def test_balances_check_pins_the_autumn_version_of_the_models(make: Make) -> None:
    h = make(ok_any)
    h.check()
    assert h.requests[0].headers["x-api-version"] == "2.1" == AUTUMN_API_VERSION
    assert "commet-version" not in h.requests[0].headers


def test_usage_check_pins_the_commet_version_of_commet_sdk_9_7_0(make: Make) -> None:
    h = make(ok_any)
    h.usage()
    assert h.requests[0].headers["commet-version"] == "2026-08-27" == COMMET_API_VERSION
    assert "x-api-version" not in h.requests[0].headers


def test_api_versions_override_each_resource_on_its_own(make: Make) -> None:
    h = make(ok_any, api_versions={"balances": "2.3.0"})
    h.check()
    h.usage()
    assert h.requests[0].headers["x-api-version"] == "2.3.0"
    assert h.requests[1].headers["commet-version"] == COMMET_API_VERSION
    h = make(ok_any, api_versions={"usage": "2026-09-30"})
    h.check()
    h.usage()
    assert h.requests[0].headers["x-api-version"] == AUTUMN_API_VERSION
    assert h.requests[1].headers["commet-version"] == "2026-09-30"


def test_http_headers_override_the_version_for_one_call(make: Make) -> None:
    h = make(ok_any)
    h.check(http_headers={"X-Api-Version": "2.5.0"})
    h.check()
    assert [r.headers["x-api-version"] for r in h.requests] == ["2.5.0", AUTUMN_API_VERSION]
    assert len(h.requests[0].headers.get_list("x-api-version")) == 1


@pytest.mark.parametrize(
    ("api_versions", "param"),
    [
        ({"balances": "2.1\r\nx-injected: 1"}, "api_versions['balances']"),
        ({"usage": "2026-08-27\n"}, "api_versions['usage']"),
        ({"usage": "2026\x00"}, "api_versions['usage']"),
        ({"balances": ""}, "api_versions['balances']"),
        ({"balances": 2.1}, "api_versions['balances']"),
        ({"balances": "2.1\u00e9"}, "api_versions['balances']"),
        ({"balance": "2.1"}, "api_versions"),
        ("2.1", "api_versions"),
    ],
)
@pytest.mark.parametrize("cls", [Meterly, AsyncMeterly])
def test_a_bad_api_version_is_refused_at_construction(cls: Any, api_versions: Any, param: str) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        cls(api_key=API_KEY, api_versions=api_versions)
    assert caught.value.param == param


# -- servers -----------------------------------------------------------------------------------------


def test_server_urls_give_each_resource_its_own_server(make: Make) -> None:
    h = make(ok_any, server_urls={"balances": "https://api.useautumn.com/", "usage": "https://commet.co/api"})
    h.check()
    h.usage()
    assert [str(r.url) for r in h.requests] == [
        "https://api.useautumn.com/v1/balances.check",
        "https://commet.co/api/v1/usage/check",
    ]


def test_a_resource_without_its_own_server_uses_server_url(make: Make) -> None:
    h = make(ok_any, server_url="https://eu.meterly.dev", server_urls={"usage": "https://commet.co/api"})
    h.check()
    h.usage()
    h.usage(server_url="http://127.0.0.1:8787")  # a per-call server wins over both
    assert [str(r.url) for r in h.requests] == [
        "https://eu.meterly.dev/v1/balances.check",
        "https://commet.co/api/v1/usage/check",
        "http://127.0.0.1:8787/v1/usage/check",
    ]


@pytest.mark.parametrize(
    ("server_urls", "param"),
    [
        ({"usage": "commet.co/api"}, "server_urls['usage']"),
        ({"balances": "https://api.useautumn.com\r\n"}, "server_urls['balances']"),
        ({"balances": None}, "server_urls['balances']"),
        ({"billing": "https://api.useautumn.com"}, "server_urls"),
        (["https://api.useautumn.com"], "server_urls"),
    ],
)
def test_a_bad_server_url_per_resource_is_refused_at_construction(server_urls: Any, param: str) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        Meterly(api_key=API_KEY, server_urls=server_urls)
    assert caught.value.param == param


def test_the_configuration_shows_servers_and_versions_but_no_key() -> None:
    client = Meterly(
        api_key=API_KEY, server_urls={"usage": "https://commet.co/api"}, api_versions={"usage": "x"}
    )
    shown = repr(client._config)
    assert "'usage': 'https://commet.co/api'" in shown
    assert "api_versions={'usage': 'x'}" in shown
    assert API_KEY not in shown


# -- Autumn's 202: degraded, allowed fail-open by the service ---------------------------------------


def accepted(request: httpx.Request) -> httpx.Response:
    """A fake Autumn in its degraded state: the sandbox never answers 202 (Prism can: test_prism.py)."""
    return json_response(202, CHECK_BODY)


def test_a_202_parses_as_usual_and_says_it_is_degraded(make: Make) -> None:
    res = make(accepted).check()
    assert res.allowed is True
    assert res.balance is not None
    assert res.is_degraded is True
    assert res.is_fallback is False


def test_a_200_is_not_degraded(make: Make) -> None:
    assert make(ok_any).check().is_degraded is False


def test_the_degraded_mark_shows_in_repr_and_is_never_serialized(make: Make) -> None:
    res = make(accepted).check()
    assert "is_degraded=True" in repr(res)
    assert res.model_dump(by_alias=True) == CHECK_BODY
    assert json.loads(res.model_dump_json(by_alias=True)) == CHECK_BODY
    plain = make(ok_any).check()
    assert "is_degraded=False" in repr(plain)


def test_a_raw_202_parses_degraded() -> None:
    transport = httpx.MockTransport(accepted)
    client = Meterly(api_key=API_KEY, client=httpx.Client(transport=transport))
    raw = client.balances.with_raw_response.check(customer_id="cus_123", feature_id="messages")
    assert raw.status_code == 202
    assert raw.parse().is_degraded is True


async def test_a_202_over_aiohttp_is_degraded_too() -> None:
    pytest.importorskip("aiohttp")

    def respond(received: Received) -> Any:
        return LoopbackServer.json(LoopbackServer(respond), 202, CHECK_BODY)

    with serve(respond) as server:
        async with AsyncMeterly(api_key=API_KEY, server_url=server.url, http_backend="aiohttp") as client:
            res = await client.balances.check(customer_id="cus_123", feature_id="messages")
    assert res.is_degraded is True
    assert server.received[0].headers["x-api-version"] == AUTUMN_API_VERSION


def test_a_fail_open_answer_shows_its_marks_in_repr_and_is_not_degraded(make: Make) -> None:
    res = make(
        lambda request: json_response(503, {"message": "down", "code": "unavailable"}), fail_open=True
    ).check(retries=None)
    assert (res.is_fallback, res.is_degraded) == (True, False)
    assert "is_fallback=True, fallback_reason='server_error'" in repr(res)
    assert "is_fallback" not in json.dumps(res.model_dump(by_alias=True))
