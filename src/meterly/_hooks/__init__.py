"""Hooks: code that sees every request, success and error of a client (public names in `meterly.hooks`)."""

from .sdkhooks import Awaiting, SDKHooks
from .types import (
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
    "Awaiting",
    "BeforeRequestHook",
    "ErrorHookResult",
    "Hook",
    "HookContext",
    "SDKHooks",
]
