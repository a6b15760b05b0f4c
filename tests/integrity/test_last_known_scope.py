"""Last-known answers never cross tenants or servers (issue 19, point 4): the store's key is
(operation, customer, feature, entity) today; it must also hold the server and a digest of the
credential, so that a failed check is only answered with what the same key saw from the same server."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any, Callable

import pytest

from meterly import FailOpenPolicy
from tests.faultproxy import Fault, FaultProxy

from ..loopback import refused_url
from .harness import ENGINES, is_sync, make_client, served

TENANT_KEYS = {"a": "sk_test_tenant_a", "b": "sk_test_tenant_b"}
# Deny by default, so that a leaked last-known `allowed=True` shows; no circuit, so every call tries.
POLICY = FailOpenPolicy(default="deny", last_known_max_age_ms=60_000, failure_threshold=None)

Step = Callable[[Any], Any]


def run_steps(engine: str, steps: Sequence[Step], **client_kwargs: Any) -> list[Any]:
    """Each step gets the client and makes one call (a result, or an awaitable on async engines)."""
    if is_sync(engine):
        with make_client(engine, **client_kwargs) as client:
            return [step(client) for step in steps]

    async def main() -> list[Any]:
        results: list[Any] = []
        async with make_client(engine, **client_kwargs) as client:
            for step in steps:
                result = step(client)
                results.append(await result if inspect.isawaitable(result) else result)
        return results

    return asyncio.run(main())


@pytest.mark.parametrize("engine", ENGINES)
def test_tenant_b_never_gets_tenant_a_last_known_answer(engine: str) -> None:
    state: dict[str, Any] = {"tenant": "a", "down": False}

    def check_as(tenant: str, down: bool) -> Step:
        def step(client: Any) -> Any:
            state.update(tenant=tenant, down=down)
            return client.balances.check(customer_id="cus_rich", feature_id="messages")

        return step

    with (
        served(api_keys=tuple(TENANT_KEYS.values())) as sandbox,
        FaultProxy(
            sandbox.url, script=lambda request: Fault.ERROR_503_BEFORE if state["down"] else Fault.OK
        ) as proxy,
    ):
        a_real, b_fallback, a_fallback = run_steps(
            engine,
            [check_as("a", False), check_as("b", True), check_as("a", True)],
            api_key=lambda: TENANT_KEYS[state["tenant"]],
            server_url=proxy.url,
            fail_open=POLICY,
            retry_config=None,
        )
    assert (a_real.is_fallback, a_real.allowed) == (False, True)
    assert (b_fallback.is_fallback, b_fallback.fallback_reason, b_fallback.allowed) == (
        True,
        "server_error",
        False,
    )
    # The store itself works: tenant A, whose answer it is, still gets it.
    assert (a_fallback.fallback_reason, a_fallback.allowed) == ("last_known", True)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_down_server_never_gets_another_servers_last_known_answer(engine: str) -> None:
    state = {"down": False}
    down_server = refused_url()

    def check(server_url: Any = None, down: bool = False) -> Step:
        def step(client: Any) -> Any:
            state["down"] = down
            return client.balances.check(customer_id="cus_rich", feature_id="messages", server_url=server_url)

        return step

    with (
        served() as sandbox,
        FaultProxy(
            sandbox.url, script=lambda request: Fault.ERROR_503_BEFORE if state["down"] else Fault.OK
        ) as proxy,
    ):
        real, elsewhere, same_server = run_steps(
            engine,
            [check(), check(server_url=down_server), check(down=True)],
            server_url=proxy.url,
            fail_open=POLICY,
            retry_config=None,
        )
    assert (real.is_fallback, real.allowed) == (False, True)
    assert (elsewhere.is_fallback, elsewhere.fallback_reason, elsewhere.allowed) == (
        True,
        "connection",
        False,
    )
    assert (same_server.fallback_reason, same_server.allowed) == ("last_known", True)
