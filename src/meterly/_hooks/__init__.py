"""Hooks: code that sees every request, success and error of a client (public names in `meterly.hooks`)."""

from .sdkhooks import Awaiting, SDKHooks
from .types import (
    AfterErrorHook,
    AfterSuccessHook,
    BeforeRequestHook,
    ErrorHookResult,
    HookContext,
)

__all__ = [
    "AfterErrorHook",
    "AfterSuccessHook",
    "Awaiting",
    "BeforeRequestHook",
    "ErrorHookResult",
    "HookContext",
    "SDKHooks",
]
