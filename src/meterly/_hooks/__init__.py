"""Hooks: code that sees every request, success and error of a client."""

from .sdkhooks import SDKHooks
from .types import AfterErrorHook, AfterSuccessHook, BeforeRequestHook, HookContext

__all__ = ["AfterErrorHook", "AfterSuccessHook", "BeforeRequestHook", "HookContext", "SDKHooks"]
