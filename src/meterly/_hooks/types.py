"""What a hook sees and may define: `HookContext` and the protocols the pipeline checks hooks with.

The async protocols and the `Hook` / `AsyncHook` unions are only types: they live in `meterly.hooks`,
which `import meterly` does not load."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol, Tuple, runtime_checkable

import httpx

from meterly._frozen import Frozen

if TYPE_CHECKING:
    from meterly._config import SDKConfiguration

ErrorHookResult = Tuple[Optional[httpx.Response], Optional[Exception]]
"""What `after_error` returns: the response and error to go on with (`(response, None)` recovers)."""


class HookContext(Frozen):
    """The operation being called, the server it goes to and the client's configuration."""

    _FIELDS = ("operation_id", "base_url", "config")
    __slots__ = _FIELDS

    operation_id: str
    """The operation's id in `openapi.yaml`, e.g. `balancesCheck` or `usageCheck`."""
    base_url: str
    """The server the call goes to, without the operation's path."""
    config: SDKConfiguration
    """The client's configuration (read-only; keys are never shown in its repr)."""

    def __init__(self, operation_id: str, base_url: str, config: SDKConfiguration) -> None:
        self._set("operation_id", operation_id)
        self._set("base_url", base_url)
        self._set("config", config)


# The methods' parameters are positional-only, so a hook may name them as it likes.


@runtime_checkable
class BeforeRequestHook(Protocol):
    """A hook that sees, and may replace, every request before it is sent (each attempt)."""

    def before_request(self, ctx: HookContext, request: httpx.Request, /) -> httpx.Request: ...


@runtime_checkable
class AfterSuccessHook(Protocol):
    """A hook that sees, and may replace, every 2xx response before it is parsed."""

    def after_success(self, ctx: HookContext, response: httpx.Response, /) -> httpx.Response: ...


@runtime_checkable
class AfterErrorHook(Protocol):
    """A hook that sees every failed attempt: a non-2xx response (its typed error given too), or a
    connection error (`response` None). It returns the pair to go on with."""

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception], /
    ) -> ErrorHookResult: ...
