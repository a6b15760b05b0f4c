"""Hooks see every attempt: they may rewrite requests, responses and errors."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import warnings
from typing import Any, Callable, Optional

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors
from meterly.hooks import HookContext

from .conftest import CHECK_BODY, FakeClock, Harness, json_response, ok_check, sequence

Make = Callable[..., Harness]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        self.events.append(("before_request", ctx.operation_id))
        request.headers["x-hooked"] = "yes"
        return request

    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        self.events.append(("after_success", response.status_code))
        return response

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        self.events.append(("after_error", type(error).__name__))
        return response, error


def test_hooks_run_around_every_attempt(make: Make) -> None:
    rec = Recorder()
    h = make(
        sequence(json_response(503, {}), httpx.ConnectError("x"), json_response(200, CHECK_BODY)), hooks=[rec]
    )
    h.check()
    assert rec.events == [
        ("before_request", "balancesCheck"),
        ("after_error", "InternalServerError"),
        ("before_request", "balancesCheck"),
        ("after_error", "APIConnectionError"),
        ("before_request", "balancesCheck"),
        ("after_success", 200),
    ]
    assert all(r.headers["x-hooked"] == "yes" for r in h.requests)


def test_hook_context_carries_operation_base_url_and_config(make: Make) -> None:
    seen: list[HookContext] = []

    class Spy:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            seen.append(ctx)
            return request

    h = make(ok_check, hooks=[Spy()], server_url="https://eu.meterly.dev", fail_open=True)
    h.check()
    assert seen[0].operation_id == "balancesCheck"
    assert seen[0].base_url == "https://eu.meterly.dev"
    assert seen[0].config.fail_open is True


def test_hooks_run_in_the_order_given(make: Make) -> None:
    order: list[str] = []

    def named(name: str) -> object:
        class Hook:
            def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
                order.append(name)
                return request

        return Hook()

    h = make(ok_check, hooks=[named("a"), named("b")])
    h.check()
    assert order == ["a", "b"]


def test_after_success_may_replace_the_response(make: Make) -> None:
    class Rewrite:
        def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
            return json_response(200, {**CHECK_BODY, "allowed": False})

    h = make(ok_check, hooks=[Rewrite()])
    assert h.check().allowed is False


def test_after_error_may_replace_the_error(make: Make) -> None:
    class Mine(Exception):
        pass

    class Replace:
        def after_error(
            self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
        ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
            return response, Mine("replaced")

    h = make(sequence(json_response(400, {})), hooks=[Replace()])
    with pytest.raises(Mine):
        h.check()


def test_after_error_may_recover_with_a_response(make: Make) -> None:
    class Recover:
        def after_error(
            self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
        ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
            return json_response(200, CHECK_BODY), None

    h = make(sequence(httpx.ConnectError("down")), hooks=[Recover()], retry_config=None)
    assert h.check().allowed is True


def test_an_object_defining_no_hook_is_rejected(make: Make) -> None:
    with pytest.raises(
        errors.RequestValidationError, match="hooks: an item of type object is not a hook"
    ) as caught:
        make(ok_check, hooks=[object()])
    assert caught.value.param == "hooks"


def test_registered_hooks_run_before_the_callers(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    class Registered:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            order.append("registered")
            return request

    class Callers:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            order.append("caller")
            return request

    monkeypatch.setattr("meterly._hooks.sdkhooks.registered_hooks", lambda: [Registered()])
    h = make(ok_check, hooks=[Callers()])
    h.check()
    assert order == ["registered", "caller"]


def test_hook_errors_propagate(make: Make) -> None:
    class Broken:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            raise RuntimeError("hook bug")

    h = make(ok_check, hooks=[Broken()])
    with pytest.raises(RuntimeError, match="hook bug"):
        h.check()


def test_hooks_do_not_change_error_mapping(make: Make) -> None:
    h = make(sequence(json_response(404, {"code": "customer_not_found"})), hooks=[Recorder()])
    with pytest.raises(errors.NotFoundError):
        h.check()


# -- async hooks -----------------------------------------------------------------------------------


class AsyncRecorder:
    """Every hook method an `async def`, as httpx's event_hooks allow on an AsyncClient."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        await asyncio.sleep(0)
        self.events.append("before_request")
        request.headers["x-async-hook"] = "yes"
        return request

    async def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        await asyncio.sleep(0)
        self.events.append("after_success")
        return response

    async def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        await asyncio.sleep(0)
        self.events.append(f"after_error:{type(error).__name__}")
        return response, error


async def test_async_hooks_on_async_meterly_are_awaited() -> None:
    hook = AsyncRecorder()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(503, {}) if len(seen) == 1 else json_response(200, CHECK_BODY)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, AsyncMeterly(api_key="sk_test_hooks", client=http, hooks=[hook]) as client:
        client._pipeline.clock = FakeClock().monotonic
        client._sleep = FakeClock().async_sleep  # type: ignore[assignment]
        res = await client.balances.check(customer_id="cus_123", feature_id="messages")
    assert res.allowed is True
    assert hook.events == [
        "before_request",
        "after_error:InternalServerError",
        "before_request",
        "after_success",
    ]
    assert all(request.headers["x-async-hook"] == "yes" for request in seen)


async def test_an_async_after_error_hook_may_recover() -> None:
    class Recover:
        async def after_error(
            self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
        ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
            return json_response(200, CHECK_BODY), None

    http = httpx.AsyncClient(transport=httpx.MockTransport(sequence(httpx.ConnectError("down"))))
    async with http, AsyncMeterly(api_key="k", client=http, hooks=[Recover()], retry_config=None) as client:
        assert (await client.balances.check(customer_id="cus_123", feature_id="f")).allowed is True


async def test_an_error_raised_by_an_async_hook_reaches_the_caller() -> None:
    class Broken:
        async def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            raise RuntimeError("async hook bug")

    http = httpx.AsyncClient(transport=httpx.MockTransport(ok_check))
    async with http, AsyncMeterly(api_key="k", client=http, hooks=[Broken()]) as client:
        with pytest.raises(RuntimeError, match="async hook bug"):
            await client.balances.check(customer_id="c", feature_id="f")


def test_the_sync_client_refuses_an_async_hook_naming_it() -> None:
    http = httpx.Client(transport=httpx.MockTransport(ok_check))
    gc.collect()  # what earlier tests in this process left is collected here, under the usual filters
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the refused coroutine is closed, never left unawaited
        client = Meterly(api_key="k", client=http, hooks=[AsyncRecorder()])
        refused = r"AsyncRecorder\.before_request is async.*AsyncMeterly"
        with http, client, pytest.raises(TypeError, match=refused):
            client.balances.check(customer_id="c", feature_id="f")
        gc.collect()


# -- wrong return types ----------------------------------------------------------------------------


class ForgetsToReturn:
    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        request.headers["x-forgot"] = "1"
        return None  # type: ignore[return-value]


class ReturnsAString:
    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        return "ok"  # type: ignore[return-value]


class ReturnsOnlyTheError:
    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        return error  # type: ignore[return-value]


class ReturnsAPairOfWrongTypes:
    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        return "response", "error"  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("hook", "handler", "message"),
    [
        (ForgetsToReturn(), ok_check, r"ForgetsToReturn\.before_request must return an httpx\.Request, got "
         r"NoneType \(did it forget to return it\?\)"),
        (ReturnsAString(), ok_check,
         r"ReturnsAString\.after_success must return an httpx\.Response, got str"),
        (ReturnsOnlyTheError(), sequence(json_response(400, {})),
         r"ReturnsOnlyTheError\.after_error must return a \(response, error\) tuple"),
        (ReturnsAPairOfWrongTypes(), sequence(httpx.ConnectError("x")),
         r"ReturnsAPairOfWrongTypes\.after_error must return a \(response, error\) tuple.*got tuple"),
    ],
    ids=["before_request-None", "after_success-str", "after_error-not-a-pair", "after_error-wrong-pair"],
)  # fmt: skip
def test_a_hook_returning_the_wrong_type_is_a_type_error_naming_it(
    make: Make, hook: object, handler: Callable[[httpx.Request], httpx.Response], message: str
) -> None:
    h = make(handler, hooks=[hook], retry_config=None)
    with pytest.raises(TypeError, match=message) as raised:
        h.check()
    assert not isinstance(raised.value, AttributeError)


def test_an_async_hook_returning_the_wrong_type_is_a_type_error_naming_it() -> None:
    class AsyncForgets:
        async def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            return None  # type: ignore[return-value]

    async def call() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(ok_check))
        async with http, AsyncMeterly(api_key="k", client=http, hooks=[AsyncForgets()]) as client:
            await client.balances.check(customer_id="c", feature_id="f")

    with pytest.raises(TypeError, match=r"AsyncForgets\.before_request must return an httpx\.Request"):
        asyncio.run(call())


def test_hooks_must_be_a_list_of_hook_objects() -> None:
    for not_a_list in (Recorder(), {"before_request": Recorder()}, "hook", 3):
        with pytest.raises(errors.RequestValidationError, match="hooks: must be a list") as caught:
            Meterly(api_key="k", hooks=not_a_list)  # type: ignore[arg-type]
        assert caught.value.param == "hooks"


def test_hook_protocols_and_context_are_public() -> None:
    from meterly import hooks

    assert hooks.HookContext is HookContext
    assert isinstance(Recorder(), hooks.BeforeRequestHook)
    assert isinstance(Recorder(), hooks.AfterErrorHook)
    assert set(hooks.__all__) >= {"Hook", "AsyncHook", "HookContext"}


def test_the_public_hook_types_load_only_when_imported() -> None:
    code = (
        "import sys, meterly; meterly.Meterly(api_key='k', hooks=[]); print('meterly.hooks' in sys.modules); "
        "import meterly.hooks; print(meterly.hooks.Hook is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
