"""What a hook sees (`HookContext`) and the protocols a hook object is recognised by."""

from __future__ import annotations

import dataclasses
from typing import Optional

import httpx
import pytest

from meterly._hooks.types import (
    AfterErrorHook,
    AfterSuccessHook,
    BeforeRequestHook,
    ErrorHookResult,
    HookContext,
)
from tests.unit.fakes import config


def test_the_context_is_frozen() -> None:
    ctx = HookContext("balancesCheck", "https://api.meterly.dev", config())
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.operation_id = "other"  # type: ignore[misc]


def test_the_contexts_repr_never_shows_the_key() -> None:
    ctx = HookContext("balancesCheck", "https://api.meterly.dev", config())
    assert "sk_test" not in repr(ctx)


class Before:
    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        return request


class Success:
    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        return response


class Error:
    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> ErrorHookResult:
        return response, error


@pytest.mark.parametrize(
    ("hook", "protocol"),
    [(Before(), BeforeRequestHook), (Success(), AfterSuccessHook), (Error(), AfterErrorHook)],
)
def test_a_hook_is_recognised_by_the_method_it_defines(hook: object, protocol: type) -> None:
    assert isinstance(hook, protocol)
    others = {BeforeRequestHook, AfterSuccessHook, AfterErrorHook} - {protocol}
    assert not any(isinstance(hook, other) for other in others)


def test_an_object_without_a_hook_method_is_no_hook() -> None:
    assert not isinstance(object(), (BeforeRequestHook, AfterSuccessHook, AfterErrorHook))
