"""Hooks see every attempt: they may rewrite requests, responses and errors."""

from __future__ import annotations

from typing import Any, Callable, Optional

import httpx
import pytest

from meterly import errors
from meterly._hooks import HookContext

from .conftest import CHECK_BODY, Harness, json_response, ok_check, sequence

Make = Callable[..., Harness]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        self.events.append(("before_request", ctx.operation_id))
        request.headers["x-hooked"] = "yes"
        return request

    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        self.events.append(("after_success", response.status_code))
        return response

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        self.events.append(("after_error", type(error).__name__))
        return response, error


def test_hooks_run_around_every_attempt(make: Make) -> None:
    rec = Recorder()
    h = make(
        sequence(json_response(503, {}), httpx.ConnectError("x"), json_response(200, CHECK_BODY)), hooks=[rec]
    )
    h.check()
    assert rec.events == [
        ("before_request", "balancesCheck"),
        ("after_error", "InternalServerError"),
        ("before_request", "balancesCheck"),
        ("after_error", "APIConnectionError"),
        ("before_request", "balancesCheck"),
        ("after_success", 200),
    ]
    assert all(r.headers["x-hooked"] == "yes" for r in h.requests)


def test_hook_context_carries_operation_base_url_and_config(make: Make) -> None:
    seen: list[HookContext] = []

    class Spy:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            seen.append(ctx)
            return request

    h = make(ok_check, hooks=[Spy()], server_url="https://eu.meterly.dev", fail_open=True)
    h.check()
    assert seen[0].operation_id == "balancesCheck"
    assert seen[0].base_url == "https://eu.meterly.dev"
    assert seen[0].config.fail_open is True


def test_hooks_run_in_the_order_given(make: Make) -> None:
    order: list[str] = []

    def named(name: str) -> object:
        class Hook:
            def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
                order.append(name)
                return request

        return Hook()

    h = make(ok_check, hooks=[named("a"), named("b")])
    h.check()
    assert order == ["a", "b"]


def test_after_success_may_replace_the_response(make: Make) -> None:
    class Rewrite:
        def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
            return json_response(200, {**CHECK_BODY, "allowed": False})

    h = make(ok_check, hooks=[Rewrite()])
    assert h.check().allowed is False


def test_after_error_may_replace_the_error(make: Make) -> None:
    class Mine(Exception):
        pass

    class Replace:
        def after_error(
            self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
        ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
            return response, Mine("replaced")

    h = make(sequence(json_response(400, {})), hooks=[Replace()])
    with pytest.raises(Mine):
        h.check()


def test_after_error_may_recover_with_a_response(make: Make) -> None:
    class Recover:
        def after_error(
            self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
        ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
            return json_response(200, CHECK_BODY), None

    h = make(sequence(httpx.ConnectError("down")), hooks=[Recover()], retry_config=None)
    assert h.check().allowed is True


def test_an_object_defining_no_hook_is_rejected(make: Make) -> None:
    with pytest.raises(TypeError, match="not a hook"):
        make(ok_check, hooks=[object()])


def test_registered_hooks_run_before_the_callers(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    class Registered:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            order.append("registered")
            return request

    class Callers:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            order.append("caller")
            return request

    monkeypatch.setattr("meterly._hooks.sdkhooks.registered_hooks", lambda: [Registered()])
    h = make(ok_check, hooks=[Callers()])
    h.check()
    assert order == ["registered", "caller"]


def test_hook_errors_propagate(make: Make) -> None:
    class Broken:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            raise RuntimeError("hook bug")

    h = make(ok_check, hooks=[Broken()])
    with pytest.raises(RuntimeError, match="hook bug"):
        h.check()


def test_hooks_do_not_change_error_mapping(make: Make) -> None:
    h = make(sequence(json_response(404, {"code": "customer_not_found"})), hooks=[Recorder()])
    with pytest.raises(errors.NotFoundError):
        h.check()
