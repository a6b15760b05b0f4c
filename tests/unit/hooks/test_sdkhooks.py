"""`SDKHooks`: the hooks sorted by what they define, chained in order, their results checked; an async
hook's awaitable is yielded for the async driver (`Awaiting`)."""

from __future__ import annotations

from typing import Any, Generator, List, Optional

import httpx
import pytest

from meterly import errors
from meterly._hooks import Awaiting, HookContext, SDKHooks
from tests.unit.fakes import config

CTX = HookContext("balancesCheck", "https://api.meterly.dev", config())
REQUEST = httpx.Request("POST", "https://api.meterly.dev/v1/balances.check")


def run(steps: Generator[Any, Any, Any]) -> Any:
    """The chain's result when no hook is async."""
    try:
        effect = next(steps)
    except StopIteration as done:
        return done.value
    raise AssertionError(f"yielded {effect!r}")


class Tagging:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        request.headers["x-tags"] = request.headers.get("x-tags", "") + self.tag
        return request


class Recovering:
    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> Any:
        return httpx.Response(200), None


class Forgetful:
    def after_success(self, ctx: HookContext, response: httpx.Response) -> Any:
        return None


class AsyncBefore:
    async def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        return request


def test_hooks_are_sorted_by_the_methods_they_define() -> None:
    before, recovering = Tagging("a"), Recovering()
    hooks = SDKHooks([before, recovering])
    assert hooks.before_request_hooks == [before]
    assert hooks.after_error_hooks == [recovering]
    assert hooks.after_success_hooks == []


def test_before_request_hooks_run_in_order_each_given_the_last_ones_request() -> None:
    request = run(SDKHooks([Tagging("a"), Tagging("b")]).before_request(CTX, REQUEST))
    assert request.headers["x-tags"] == "ab"


def test_after_error_returns_the_pair_the_last_hook_gave() -> None:
    response, error = run(SDKHooks([Recovering()]).after_error(CTX, None, ValueError("down")))
    assert isinstance(response, httpx.Response)
    assert error is None


def test_no_hooks_leave_the_error_as_it_was() -> None:
    down = ValueError("down")
    assert run(SDKHooks().after_error(CTX, None, down)) == (None, down)


def test_a_hook_that_returns_nothing_is_a_type_error_with_a_hint() -> None:
    with pytest.raises(
        TypeError, match=r"Forgetful.after_success must return an httpx.Response, got NoneType \(did"
    ):
        run(SDKHooks([Forgetful()]).after_success(CTX, httpx.Response(200)))


@pytest.mark.parametrize("result", [None, (None,), ("response", None), (None, "error")])
def test_an_after_error_result_that_is_not_the_pair_is_a_type_error(result: Any) -> None:
    class Wrong:
        def after_error(self, ctx: HookContext, response: Any, error: Any) -> Any:
            return result

    with pytest.raises(TypeError, match=r"Wrong.after_error must return a \(response, error\) tuple"):
        run(SDKHooks([Wrong()]).after_error(CTX, None, None))


def test_an_async_hooks_awaitable_is_yielded_and_its_result_sent_back() -> None:
    hook = AsyncBefore()
    steps = SDKHooks([hook]).before_request(CTX, REQUEST)
    effect = next(steps)
    assert isinstance(effect, Awaiting)
    assert (effect.hook, effect.method) == (hook, "before_request")
    effect.awaitable.close()  # type: ignore[attr-defined]
    with pytest.raises(StopIteration) as done:
        steps.send(REQUEST)
    assert done.value.value is REQUEST


def test_refusing_an_awaitable_closes_it_and_names_the_hook() -> None:
    effect = next(SDKHooks([AsyncBefore()]).before_request(CTX, REQUEST))
    assert isinstance(effect, Awaiting)
    error = effect.refuse()
    assert "AsyncBefore.before_request is async" in str(error)
    assert effect.awaitable.cr_frame is None  # type: ignore[attr-defined]  # closed: no "never awaited" warning


@pytest.mark.parametrize("hooks", ["hook", b"hook", {"a": 1}, 3])
def test_hooks_that_are_not_a_list_are_refused_naming_hooks(hooks: Any) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        SDKHooks(hooks)
    assert caught.value.param == "hooks"


def test_an_item_that_defines_no_hook_method_is_refused_naming_its_type() -> None:
    with pytest.raises(errors.RequestValidationError, match="an item of type int is not a hook"):
        SDKHooks([1])


def test_no_hooks_make_empty_lists() -> None:
    hooks = SDKHooks()
    lists: List[List[Any]] = [hooks.before_request_hooks, hooks.after_success_hooks, hooks.after_error_hooks]
    assert lists == [[], [], []]
