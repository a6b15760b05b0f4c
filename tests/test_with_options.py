"""`client.with_options(...)`: a configured view sharing its parent's pool; `max_retries`; closed clients."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import httpx
import pytest

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, RetryConfig, errors

from .conftest import API_KEY, Harness, json_response, ok_check, sequence

Make = Callable[..., Harness]
DOWN = json_response(503, {"message": "down", "code": "unavailable"})


def test_a_view_changes_its_options_and_leaves_the_parent_alone(make: Make) -> None:
    h = make(sequence(DOWN))
    view = h.client.with_options(timeout_ms=1_500, max_retries=1, fail_open=True)
    assert view._config.retry_config is not None
    assert view._config.retry_config.max_retries == 1
    assert view._config.timeout == httpx.Timeout(1.5)
    assert view._config.fail_open is True
    assert h.client._config.retry_config is not None
    assert h.client._config.retry_config.max_retries is None
    assert h.client._config.timeout is None
    assert h.client._config.fail_open is False


def test_max_retries_bounds_the_attempts_of_a_view(make: Make) -> None:
    h = make(sequence(DOWN))
    h.client = h.client.with_options(max_retries=2)
    with pytest.raises(errors.InternalServerError) as info:
        h.check()
    assert len(h.requests) == 3
    assert info.value.attempts == 3


def test_a_view_with_fail_open_answers_the_fallback(make: Make) -> None:
    h = make(sequence(DOWN), retry_config=None)
    parent = h.client
    h.client = parent.with_options(fail_open=True)
    res = h.check()
    assert (res.allowed, res.is_fallback, res.fallback_reason) == (True, True, "server_error")
    h.client = parent
    with pytest.raises(errors.InternalServerError):
        h.check()


def test_a_view_keeps_the_parents_circuit_breakers_unless_fail_open_changes() -> None:
    client = Meterly(api_key=API_KEY, fail_open=FailOpenPolicy(failure_threshold=2))
    assert client.with_options(timeout_ms=100)._pipeline.fail_open is client._pipeline.fail_open
    assert client.with_options(fail_open=True)._pipeline.fail_open is not client._pipeline.fail_open
    client.close()


def test_a_view_shares_the_parents_owned_pool_and_closing_it_leaves_the_pool_open() -> None:
    client = Meterly(api_key=API_KEY)
    view = client.with_options(timeout_ms=500)
    pool = client._http()
    assert view._http() is pool
    with view:
        pass
    assert view._closed
    assert not client._closed
    assert not pool.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        view.balances.check(customer_id="c", feature_id="f")
    client.close()
    assert pool.is_closed


def test_after_fork_a_view_uses_the_pool_its_parent_rebuilds() -> None:
    client = Meterly(api_key=API_KEY)
    view = client.with_options(timeout_ms=500)
    inherited = client._http()
    for each in (client, view):  # what the at-fork hook does in a child process
        each._after_fork_in_child()
    rebuilt = view._http()
    assert rebuilt is client._http()
    assert rebuilt is not inherited
    inherited.close()
    client.close()


def test_a_view_of_a_closed_client_is_closed_too() -> None:
    http = httpx.Client(transport=httpx.MockTransport(ok_check))
    client = Meterly(api_key=API_KEY, client=http)
    view = client.with_options(max_retries=0)
    assert view.balances.check(customer_id="c", feature_id="f").allowed is True
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        view.balances.check(customer_id="c", feature_id="f")
    assert not http.is_closed  # injected: never closed by the SDK, through a view neither
    http.close()


def test_an_async_view_shares_the_pool_of_its_event_loop() -> None:
    async def main() -> None:
        async with AsyncMeterly(api_key=API_KEY) as client:
            view = client.with_options(timeout_ms=500)
            assert view._http() is client._http()
            await view.aclose()
            assert not client._http().is_closed

    asyncio.run(main())


def test_a_view_of_a_view_takes_the_options_of_both() -> None:
    client = Meterly(api_key=API_KEY)
    view = client.with_options(timeout_ms=700).with_options(max_retries=4)
    assert view._config.timeout == httpx.Timeout(0.7)
    assert view._config.retry_config is not None
    assert view._config.retry_config.max_retries == 4
    assert view._parent is client
    client.close()


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"timeout_ms": 0}, "timeout_ms"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"retry_config": 3}, "retry_config"),
        ({"retry_config": None, "max_retries": 2}, "max_retries"),
        ({"fail_open": "yes"}, "fail_open"),
    ],
)
def test_bad_options_are_rejected_naming_the_parameter(kwargs: dict[str, Any], param: str) -> None:
    client = Meterly(api_key=API_KEY)
    with pytest.raises(errors.RequestValidationError) as info:
        client.with_options(**kwargs)
    assert info.value.param == param
    client.close()


def test_max_retries_on_the_constructor_caps_the_default_policy(make: Make) -> None:
    h = make(sequence(DOWN), max_retries=1)
    with pytest.raises(errors.InternalServerError):
        h.check()
    assert len(h.requests) == 2


def test_max_retries_zero_never_retries(make: Make) -> None:
    h = make(sequence(DOWN), max_retries=0)
    with pytest.raises(errors.InternalServerError):
        h.check()
    assert len(h.requests) == 1


def test_max_retries_applies_to_a_given_retry_config() -> None:
    policy = RetryConfig(retry_connection_errors=False)
    client = Meterly(api_key=API_KEY, retry_config=policy, max_retries=3)
    assert client._config.retry_config == RetryConfig(retry_connection_errors=False, max_retries=3)
    client.close()


def test_with_on_a_closed_client_raises_at_once() -> None:
    client = Meterly(api_key=API_KEY)
    client.close()
    with pytest.raises(RuntimeError, match="Meterly is closed"), client:
        pytest.fail("the block must not run")


def test_async_with_on_a_closed_client_raises_at_once() -> None:
    async def main() -> None:
        client = AsyncMeterly(api_key=API_KEY)
        await client.aclose()
        with pytest.raises(RuntimeError, match="AsyncMeterly is closed"):
            async with client:
                pytest.fail("the block must not run")

    asyncio.run(main())
