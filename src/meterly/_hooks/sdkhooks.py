"""The hooks of one client, sorted by what each defines and run in order."""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

import httpx

from .registration import registered_hooks
from .types import AfterErrorHook, AfterSuccessHook, BeforeRequestHook, HookContext


class SDKHooks:
    """The registered hooks followed by the caller's; each list is empty when no hook defines it."""

    def __init__(self, hooks: Iterable[object] = ()) -> None:
        self.before_request_hooks: List[BeforeRequestHook] = []
        self.after_success_hooks: List[AfterSuccessHook] = []
        self.after_error_hooks: List[AfterErrorHook] = []
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
                raise TypeError(
                    f"{hook!r} is not a hook: define before_request, after_success or after_error"
                )

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        for hook in self.before_request_hooks:
            request = hook.before_request(ctx, request)
        return request

    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        for hook in self.after_success_hooks:
            response = hook.after_success(ctx, response)
        return response

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> Tuple[Optional[httpx.Response], Optional[Exception]]:
        for hook in self.after_error_hooks:
            response, error = hook.after_error(ctx, response, error)
        return response, error
