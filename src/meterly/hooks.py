"""Hooks: objects that see every request, success and error of a client.

A hook defines any of `before_request(ctx, request)`, `after_success(ctx, response)` and
`after_error(ctx, response, error)`; pass it as `Meterly(hooks=[...])`. On `AsyncMeterly` a method may be
an `async def`: it is awaited. `Hook` types the sync objects and `AsyncHook` also the async ones; a method
that returns the wrong type raises a `TypeError` naming the hook's class and method.
"""

from typing import Awaitable, Optional, Protocol, Union

import httpx

from meterly._hooks.types import (
    AfterErrorHook,
    AfterSuccessHook,
    BeforeRequestHook,
    ErrorHookResult,
    HookContext,
)

# Only types, so they live here rather than in meterly._hooks, which every client loads. The methods'
# parameters are positional-only, so a hook may name them as it likes.


class AsyncBeforeRequestHook(Protocol):
    """`BeforeRequestHook` as an `async def`, for `AsyncMeterly`."""

    def before_request(self, ctx: HookContext, request: httpx.Request, /) -> Awaitable[httpx.Request]: ...


class AsyncAfterSuccessHook(Protocol):
    """`AfterSuccessHook` as an `async def`, for `AsyncMeterly`."""

    def after_success(self, ctx: HookContext, response: httpx.Response, /) -> Awaitable[httpx.Response]: ...


class AsyncAfterErrorHook(Protocol):
    """`AfterErrorHook` as an `async def`, for `AsyncMeterly`."""

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception], /
    ) -> Awaitable[ErrorHookResult]: ...


Hook = Union[BeforeRequestHook, AfterSuccessHook, AfterErrorHook]
"""A hook object for `Meterly(hooks=[...])`: it defines any of `before_request`, `after_success` and
`after_error` (plain `def`)."""

AsyncHook = Union[Hook, AsyncBeforeRequestHook, AsyncAfterSuccessHook, AsyncAfterErrorHook]
"""A hook object for `AsyncMeterly(hooks=[...])`: its methods may be plain `def` or `async def`."""


__all__ = [
    "AfterErrorHook",
    "AfterSuccessHook",
    "AsyncAfterErrorHook",
    "AsyncAfterSuccessHook",
    "AsyncBeforeRequestHook",
    "AsyncHook",
    "BeforeRequestHook",
    "ErrorHookResult",
    "Hook",
    "HookContext",
]
