"""The hooks of one client, sorted by what each defines and run in order.

The runners are generators, like the pipeline that drives them: a hook that returns an awaitable (an
`async def` method) is yielded as an `Awaiting` effect, which the async client awaits and the sync client
refuses. Whatever a hook returns is checked, so a mistake is a `TypeError` naming the hook.
"""

from __future__ import annotations

import inspect
from typing import (
    Any,
    Awaitable,
    Generator,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    cast,
)

import httpx

from meterly.errors import RequestValidationError

from .registration import registered_hooks
from .types import AfterErrorHook, AfterSuccessHook, BeforeRequestHook, ErrorHookResult, HookContext


class Awaiting:
    """An effect: the awaitable a hook method returned, for the async driver to await."""

    __slots__ = ("awaitable", "hook", "method")

    def __init__(self, awaitable: Awaitable[Any], hook: object, method: str) -> None:
        self.awaitable = awaitable
        self.hook = hook
        self.method = method

    def refuse(self) -> TypeError:
        """The error for a sync client, which cannot await; the coroutine is closed unawaited."""
        close = getattr(self.awaitable, "close", None)
        if callable(close):
            close()
        return TypeError(
            f"{_name(self.hook, self.method)} is async: Meterly (the sync client) cannot await it; "
            "use AsyncMeterly, or make the method a plain def"
        )


def _name(hook: object, method: str) -> str:
    return f"{type(hook).__qualname__}.{method}"


def _wrong(hook: object, method: str, expected: str, got: object) -> TypeError:
    hint = " (did it forget to return it?)" if got is None else ""
    return TypeError(f"{_name(hook, method)} must return {expected}, got {type(got).__name__}{hint}")


class SDKHooks:
    """The registered hooks followed by the caller's; each list is empty when no hook defines it."""

    def __init__(self, hooks: Iterable[object] = ()) -> None:
        self.before_request_hooks: List[BeforeRequestHook] = []
        self.after_success_hooks: List[AfterSuccessHook] = []
        self.after_error_hooks: List[AfterErrorHook] = []
        kind = type(hooks).__name__
        if isinstance(hooks, (str, bytes, Mapping)) or not isinstance(hooks, Iterable):
            raise RequestValidationError("hooks", f"must be a list of hook objects, got {kind}")
        for hook in [*registered_hooks(), *hooks]:
            found = False
            if isinstance(hook, BeforeRequestHook):
                self.before_request_hooks.append(hook)
                found = True
            if isinstance(hook, AfterSuccessHook):
                self.after_success_hooks.append(hook)
                found = True
            if isinstance(hook, AfterErrorHook):
                self.after_error_hooks.append(hook)
                found = True
            if not found:
                raise RequestValidationError(
                    "hooks",
                    f"an item of type {type(hook).__name__} is not a hook: define before_request, "
                    "after_success or after_error",
                )

    def before_request(self, ctx: HookContext, request: httpx.Request) -> Generator[Any, Any, httpx.Request]:
        """Every `before_request` in order, each given the request the one before returned."""
        return _chain(self.before_request_hooks, "before_request", ctx, request, httpx.Request)

    def after_success(
        self, ctx: HookContext, response: httpx.Response
    ) -> Generator[Any, Any, httpx.Response]:
        """Every `after_success` in order, each given the response the one before returned."""
        return _chain(self.after_success_hooks, "after_success", ctx, response, httpx.Response)

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> Generator[Any, Any, ErrorHookResult]:
        """Every `after_error` in order, each given the (response, error) pair the one before returned."""
        for hook in self.after_error_hooks:
            result: Any = hook.after_error(ctx, response, error)
            if inspect.isawaitable(result):
                result = yield Awaiting(result, hook, "after_error")
            response, error = _error_pair(hook, result)
        return response, error


M = TypeVar("M", httpx.Request, httpx.Response)


def _chain(
    hooks: Sequence[object], method: str, ctx: HookContext, message: M, kind: type[M]
) -> Generator[Any, Any, M]:
    """Passes `message` through each hook's `method` in order, checking that each returns its type."""
    for hook in hooks:
        result: Any = getattr(hook, method)(ctx, message)
        if inspect.isawaitable(result):
            result = yield Awaiting(result, hook, method)
        if not isinstance(result, kind):
            raise _wrong(hook, method, f"an httpx.{kind.__name__}", result)
        message = result
    return message


def _error_pair(hook: object, result: Any) -> Tuple[Optional[httpx.Response], Optional[Exception]]:
    got: object = result
    expected = "a (response, error) tuple: an httpx.Response or None, and an Exception or None"
    if isinstance(result, tuple):
        pair = cast("Tuple[object, ...]", result)
        if len(pair) == 2:
            response, error = pair
            if (response is None or isinstance(response, httpx.Response)) and (
                error is None or isinstance(error, Exception)
            ):
                return response, error
    raise _wrong(hook, "after_error", expected, got)
