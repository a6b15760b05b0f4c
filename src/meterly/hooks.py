"""Hooks: objects that see every request, success and error of a client.

A hook defines any of `before_request(ctx, request)`, `after_success(ctx, response)` and
`after_error(ctx, response, error)`; pass it as `Meterly(hooks=[...])`. On `AsyncMeterly` a method may be
an `async def`: it is awaited. `Hook` types the sync objects and `AsyncHook` also the async ones; a method
that returns the wrong type raises a `TypeError` naming the hook's class and method.
"""

from meterly._hooks.types import (
    AfterErrorHook,
    AfterSuccessHook,
    AsyncAfterErrorHook,
    AsyncAfterSuccessHook,
    AsyncBeforeRequestHook,
    AsyncHook,
    BeforeRequestHook,
    ErrorHookResult,
    Hook,
    HookContext,
)

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
