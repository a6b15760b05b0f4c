"""Django gates: `@require_feature(...)` checks a feature before a view runs, for sync and async views.

`pip install 'meterly[django]'`. The clients come from `settings.METERLY`, a dict of `Meterly` /
`AsyncMeterly` keywords (`{"api_key": ..., "fail_open": True, "server_urls": {...}}`; upper-case keys work
too): every keyword of their constructors, read from their signatures. Each process
creates one `Meterly` (sync views) and one `AsyncMeterly` (async views) on first use and keeps them;
a worker forked from a preloaded master (gunicorn `--preload`) keeps the instance and the SDK gives it
a connection pool of its own. Changing `settings.METERLY` (as `override_settings` does) replaces them.

The usage outbox: `"outbox": True` (in memory) or `"outbox": meterly.Outbox(path=...)` (durable) in
`settings.METERLY` gives the sync `Meterly` one; `get_outbox()` returns it, for sync and async views alike
(queueing never waits). Add `"meterly.integrations.django.MeterlyConfig"` to `INSTALLED_APPS` to start it
with the app (a durable file's leftovers go out before the first request); each process flushes it at
exit, for at most `close_timeout_ms` (gunicorn's workers exit through `sys.exit`, so they do), and a
worker forked from a preloaded master gets its own sender.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, FrozenSet, Optional, TypeVar, Union, cast

from meterly.integrations._extra import missing

try:
    from django.apps import AppConfig
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.signals import setting_changed
    from django.http import HttpRequest, HttpResponseBase, JsonResponse
except ImportError:  # pragma: no cover - exercised by the plain-install wheel test
    raise missing(__name__, "django", "django") from None

from meterly import models
from meterly.integrations._gate import DENIED_STATUS, DeniedBody, check_gate, default_denied_body
from meterly.sdk import AsyncMeterly, Meterly

if TYPE_CHECKING:
    from meterly.outbox import ClientOutbox

__all__ = [
    "MeterlyConfig",
    "feature_check",
    "get_async_client",
    "get_client",
    "get_outbox",
    "require_feature",
]

V = TypeVar("V", bound=Callable[..., Any])


def _keywords_of(constructor: Callable[..., None]) -> FrozenSet[str]:
    """The keywords a client's constructor takes, read from its signature so none is left out."""
    return frozenset(
        name
        for name, parameter in inspect.signature(constructor).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    )


_SYNC_KEYWORDS = _keywords_of(Meterly.__init__)
_ASYNC_KEYWORDS = _keywords_of(AsyncMeterly.__init__)
_KEYWORDS = _SYNC_KEYWORDS | _ASYNC_KEYWORDS
"""What `settings.METERLY` may hold: every keyword of `Meterly` or `AsyncMeterly`. An async-only engine
(`http_backend="aiohttp"`) is given to the async client alone, the sync one keeping httpx; `outbox` only to
the sync client (its thread sender serves async views too, whose event loops may not outlive a request)."""

_lock = threading.Lock()
_clients: Dict[str, Union[Meterly, AsyncMeterly]] = {}


def _reset_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at fork time


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


def _is_sync_client(value: object) -> bool:
    """An `httpx.Client` or `httpx2.Client` (checked by class, so httpx2 need not be installed)."""
    return any(
        cls.__name__ == "Client" and cls.__module__.partition(".")[0] in ("httpx", "httpx2")
        for cls in type(value).__mro__
    )


def _keywords(for_async: bool) -> Dict[str, Any]:
    configured: Any = getattr(settings, "METERLY", None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured("settings.METERLY must be a dict of Meterly keywords")
    accepted = _ASYNC_KEYWORDS if for_async else _SYNC_KEYWORDS
    keywords: Dict[str, Any] = {}
    for key, value in cast(Dict[object, object], configured).items():
        name = str(key).lower()
        if name not in _KEYWORDS:
            raise ImproperlyConfigured(
                f"settings.METERLY has an unknown key {key!r}; valid keys: {', '.join(sorted(_KEYWORDS))}"
            )
        if name not in accepted or (name == "outbox" and for_async):
            continue
        if name == "client" and _is_sync_client(value) == for_async:
            continue  # an httpx.Client serves the sync views, any other client the async ones
        if name == "http_backend" and value == "aiohttp" and not for_async:
            continue
        keywords[name] = value
    return keywords


def _client(kind: str) -> Union[Meterly, AsyncMeterly]:
    client = _clients.get(kind)
    if client is None:
        with _lock:
            client = _clients.get(kind)
            if client is None:
                keywords = _keywords(kind == "async")
                client = AsyncMeterly(**keywords) if kind == "async" else Meterly(**keywords)
                _clients[kind] = client
    return client


def get_client() -> Meterly:
    """This process's `Meterly`, built from `settings.METERLY` on first use."""
    return cast(Meterly, _client("sync"))


def get_async_client() -> AsyncMeterly:
    """This process's `AsyncMeterly`, built from `settings.METERLY` on first use."""
    return cast(AsyncMeterly, _client("async"))


def get_outbox() -> ClientOutbox:
    """This process's usage outbox (`settings.METERLY["outbox"]`), on the sync `Meterly`; raises
    RequestValidationError naming `outbox` when the settings give none."""
    return get_client().outbox


def _has_outbox() -> bool:
    configured: Any = getattr(settings, "METERLY", None) or {}
    return isinstance(configured, dict) and any(
        str(key).lower() == "outbox" and value not in (None, False)
        for key, value in cast(Dict[object, object], configured).items()
    )


class MeterlyConfig(AppConfig):
    """`INSTALLED_APPS = [..., "meterly.integrations.django.MeterlyConfig"]`: checks `settings.METERLY` at
    startup, and builds the client now when it has an outbox, so the outbox's sender starts with the app."""

    name = "meterly.integrations.django"
    label = "meterly"
    verbose_name = "Meterly"

    def ready(self) -> None:
        _keywords(for_async=False)  # a misspelt key fails at startup, not at the first request
        if _has_outbox():
            get_outbox().start()


def _forget_clients(*, setting: str, **kwargs: Any) -> None:
    if setting != "METERLY":
        return
    with _lock:
        old = dict(_clients)
        _clients.clear()
    sync = old.get("sync")
    if isinstance(sync, Meterly):
        sync.close()
    # An AsyncMeterly's pools are closed by their event loops as those shut down.


setting_changed.connect(_forget_clients, dispatch_uid="meterly.integrations.django")


def feature_check(request: HttpRequest) -> models.CheckResponse:
    """The answer `require_feature` attached to this request (typed; `request.meterly_check` is the same).

    Raises RuntimeError for a request whose view `require_feature` did not gate.
    """
    result = getattr(request, "meterly_check", None)
    if not isinstance(result, models.CheckResponse):
        raise RuntimeError("this request has no feature check: decorate its view with @require_feature(...)")
    return result


def require_feature(
    feature_id: str,
    *,
    customer: Callable[[HttpRequest], Any],
    entity: Optional[Callable[[HttpRequest], Any]] = None,
    required_balance: Optional[float] = None,
    send_event: Optional[bool] = None,
    with_preview: Optional[bool] = True,
    properties: Optional[Dict[str, Any]] = None,
    status_code: int = DENIED_STATUS,
    denied_body: Optional[DeniedBody] = None,
) -> Callable[[V], V]:
    """A view decorator: the view runs only when the customer may use `feature_id`.

    Args:
        feature_id: The feature the view needs.
        customer: `customer(request)` gives the customer id; for an async view it may be `async def`.
        entity: `entity(request)` gives the entity id (a seat, a workspace), or None.
        required_balance: How much of the feature the request needs (`balances.check`'s).
        send_event: Record the usage when allowed (`balances.check`'s).
        with_preview: Ask for the paywall preview, which a denial carries (on by default).
        properties: Event properties (`balances.check`'s).
        status_code: The status of a denial (402).
        denied_body: Builds a denial's JSON body from the `CheckResponse`; None: the default body.

    When allowed, `request.meterly_check` (typed: `feature_check(request)`) holds the `CheckResponse` (a
    fail-open answer too, marked by `is_fallback`); when denied the view does not run and the answer is a
    `JsonResponse` with `status_code` (402) and `denied_body(result)` (the preview by default).
    """
    options = check_gate(
        feature_id,
        {
            "required_balance": required_balance,
            "send_event": send_event,
            "with_preview": with_preview,
            "properties": properties,
        },
        status=status_code,
        body=denied_body,
        customer=customer,
        entity=entity,
    )
    build = denied_body or default_denied_body

    def denied(result: models.CheckResponse) -> JsonResponse:
        return JsonResponse(build(result), status=status_code, safe=False)

    def decorate(view: V) -> V:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                customer_id = await _resolved(customer(request))
                entity_id = None if entity is None else await _resolved(entity(request))
                result = await get_async_client().balances.check(
                    customer_id=customer_id, entity_id=entity_id, **options
                )
                if not result.allowed:
                    return denied(result)
                request.meterly_check = result  # type: ignore[attr-defined]
                response: HttpResponseBase = await view(request, *args, **kwargs)
                return response

            return cast(V, async_gated)

        @functools.wraps(view)
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            customer_id = customer(request)
            entity_id = None if entity is None else entity(request)
            result = get_client().balances.check(customer_id=customer_id, entity_id=entity_id, **options)
            if not result.allowed:
                return denied(result)
            request.meterly_check = result  # type: ignore[attr-defined]
            response: HttpResponseBase = view(request, *args, **kwargs)
            return response

        return cast(V, gated)

    return decorate


async def _resolved(value: Union[Any, Awaitable[Any]]) -> Any:
    return await value if inspect.isawaitable(value) else value
