"""What a hook sees and may define."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol, Tuple, runtime_checkable

import httpx

if TYPE_CHECKING:
    from meterly._config import SDKConfiguration


@dataclass(frozen=True)
class HookContext:
    """The operation being called, the server it goes to and the client's configuration."""

    operation_id: str
    base_url: str
    config: SDKConfiguration


@runtime_checkable
class BeforeRequestHook(Protocol):
    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request: ...


@runtime_checkable
class AfterSuccessHook(Protocol):
    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response: ...


@runtime_checkable
class AfterErrorHook(Protocol):
    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> Tuple[Optional[httpx.Response], Optional[Exception]]: ...
