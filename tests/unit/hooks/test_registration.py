"""SDK-wide hooks: none in this build, and those registered run before the caller's."""

from __future__ import annotations

from typing import List

import httpx
import pytest

from meterly._hooks import SDKHooks, registration, sdkhooks
from meterly._hooks.registration import registered_hooks
from meterly.hooks import HookContext


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        return request


def test_this_build_registers_no_hook() -> None:
    assert registered_hooks() == []


def test_each_call_gives_a_fresh_list() -> None:
    registered_hooks().append(Named("leaked"))
    assert registered_hooks() == []


def test_registered_hooks_come_before_the_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk_wide = Named("sdk")
    monkeypatch.setattr(sdkhooks, "registered_hooks", lambda: [sdk_wide])
    caller = Named("caller")
    hooks: List[object] = list(SDKHooks([caller]).before_request_hooks)
    assert hooks == [sdk_wide, caller]
    assert registration.registered_hooks() == []
