"""Flask gates: `@require_feature(...)` checks a feature before a view runs, the Flask way.

`pip install 'meterly[flask]'`. Flask views take no request argument, so the gate's `customer` (and
`entity`) are called with none: they read `flask.request`, `flask.g` or `flask_login.current_user`.

The client comes from the `MeterlyFlask` extension, configured from `app.config["METERLY"]`, a dict of
`Meterly` keywords (`{"api_key": ..., "fail_open": True, "server_urls": {...}}`; upper-case keys work
too): every keyword of `Meterly`'s constructor, read from its signature. The extension works with an app
factory (`meterly_ext = MeterlyFlask()` at module level, `meterly_ext.init_app(app)` in the factory) and
builds one `Meterly` per app; a worker forked from a preloaded master (gunicorn `--preload`) keeps it
and the SDK gives it a connection pool of its own.

The usage outbox: `"outbox": True` or `meterly.Outbox(path=...)` in the config gives the app's `Meterly`
one, started by `init_app` (a durable file's leftovers go out at once); `get_outbox()` returns it. It
is flushed when the extension's `close()` closes the client, else at the process's exit, for at most
`close_timeout_ms`.

A denial raises `FeatureDenied`, a werkzeug `HTTPException` (402 by default) whose response is the JSON
denial body, so Flask answers it as it answers any `abort(...)`, and `@app.errorhandler(FeatureDenied)`
can render a paywall of its own instead (Flask refuses `errorhandler(402)`: werkzeug has no 402 class).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Optional, TypeVar, cast

from meterly.integrations._extra import missing

try:
    from flask import Flask, Response, current_app, g, json
    from werkzeug.exceptions import HTTPException
except ImportError:  # pragma: no cover - exercised by the plain-install wheel test
    raise missing(__name__, "flask", "flask") from None

from meterly import models
from meterly.errors import RequestValidationError
from meterly.integrations._gate import DENIED_STATUS, DeniedBody, check_gate, default_denied_body
from meterly.sdk import Meterly

if TYPE_CHECKING:
    from meterly.outbox import ClientOutbox

__all__ = ["FeatureDenied", "MeterlyFlask", "feature_check", "get_client", "get_outbox", "require_feature"]

V = TypeVar("V", bound=Callable[..., Any])

CONFIG_KEY = "METERLY"
"""The key of `app.config` that holds the client's keywords."""

_EXTENSION = "meterly"
_CHECK = "meterly_check"

KEYWORDS: FrozenSet[str] = frozenset(
    name
    for name, parameter in inspect.signature(Meterly.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)
"""What `app.config["METERLY"]` may hold: every keyword of `Meterly`, read from its signature."""


def client_keywords(configured: Any) -> Dict[str, Any]:
    """`app.config["METERLY"]` as `Meterly` keywords; raises RequestValidationError naming a bad key."""
    if configured is None:
        return {}
    if not isinstance(configured, dict):
        raise RequestValidationError(
            'app.config["METERLY"]', f"must be a dict of Meterly keywords, got {type(configured).__name__}"
        )
    keywords: Dict[str, Any] = {}
    for key, value in cast(Dict[object, object], configured).items():
        name = str(key).lower()
        if name not in KEYWORDS:
            raise RequestValidationError(
                'app.config["METERLY"]',
                f"unknown key {key!r}; valid keys: {', '.join(sorted(KEYWORDS))}",
            )
        keywords[name] = value
    return keywords


class MeterlyFlask:
    """The Flask extension holding each app's `Meterly`.

    `MeterlyFlask(app)`, or `ext = MeterlyFlask()` then `ext.init_app(app)` in an app factory. The client
    is built from `app.config["METERLY"]` when `init_app` runs (a bad key fails there, when the app is
    created), or is the `client` you pass, which the extension uses as it is and never closes.
    """

    def __init__(self, app: Optional[Flask] = None, *, client: Optional[Meterly] = None) -> None:
        """Set up the extension, and on `app` at once when given (else call `init_app` later).

        Args:
            app: The app to set up now; None for an app factory, which calls `init_app(app)`.
            client: A `Meterly` of yours for every app; None builds one per app from its config.
        """
        if client is not None and not isinstance(client, Meterly):
            raise RequestValidationError("client", "must be a meterly.Meterly (Flask views are sync)")
        self._client = client
        self._owned: Dict[int, Meterly] = {}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Registers the extension on `app`, with its client (built now from `app.config["METERLY"]`)."""
        client = self._client
        if client is None:
            config = cast(Dict[str, Any], app.config)
            client = Meterly(**client_keywords(config.get(CONFIG_KEY)))
            self._owned[id(app)] = client
            with contextlib.suppress(RequestValidationError):  # a client without one
                client.outbox.start()
        app.extensions[_EXTENSION] = client

    def close(self) -> None:
        """Closes the clients this extension built (a WSGI app has no shutdown hook to do it for you)."""
        owned, self._owned = self._owned, {}
        for client in owned.values():
            client.close()


def get_client() -> Meterly:
    """The current app's `Meterly`; raises RuntimeError when `MeterlyFlask` was not set up on it."""
    client = current_app.extensions.get(_EXTENSION)
    if not isinstance(client, Meterly):
        raise RuntimeError(
            "no Meterly client for this app: set it up with MeterlyFlask(app) "
            "(or meterly_ext.init_app(app) in your app factory)"
        )
    return client


def get_outbox() -> ClientOutbox:
    """The current app's usage outbox (`"outbox"` in `app.config["METERLY"]`); raises
    RequestValidationError naming `outbox` when the config gives none."""
    return get_client().outbox


def feature_check() -> models.CheckResponse:
    """The answer `require_feature` gave for this request (typed; `g.meterly_check` is the same).

    Raises RuntimeError in a request whose view `require_feature` did not gate.
    """
    result = g.get(_CHECK)
    if not isinstance(result, models.CheckResponse):
        raise RuntimeError("this request has no feature check: decorate its view with @require_feature(...)")
    return result


class FeatureDenied(HTTPException):
    """The customer may not use the feature: Flask answers `code` (402) with the JSON denial body.

    `result` is the check's answer and `body` the JSON body, for an error handler that renders its own
    paywall (`@app.errorhandler(FeatureDenied)`).
    """

    code = DENIED_STATUS
    """The status of the denial: 402, or the gate's `status_code` (set on each instance)."""
    result: models.CheckResponse
    body: Any
    """The denial's JSON body: `denied_body(result)`, by default a dict with `code`, `message`, `preview`
    (the paywall, a dict, or None) and `fallback_reason`."""

    def __init__(self, result: models.CheckResponse, status_code: int, body: Any) -> None:
        response = Response(json.dumps(body), status=status_code, mimetype="application/json")
        super().__init__(description="this customer's plan does not allow this feature", response=response)
        self.code = status_code
        self.result = result
        self.body = body


def require_feature(
    feature_id: str,
    *,
    customer: Callable[[], Any],
    entity: Optional[Callable[[], Any]] = None,
    required_balance: Optional[float] = None,
    send_event: Optional[bool] = None,
    with_preview: Optional[bool] = True,
    properties: Optional[Dict[str, Any]] = None,
    status_code: int = DENIED_STATUS,
    denied_body: Optional[DeniedBody] = None,
) -> Callable[[V], V]:
    """A view decorator: the view runs only when the customer may use `feature_id`.

    Bad arguments raise RequestValidationError here, when the view is defined.

    Args:
        feature_id: The feature the view needs.
        customer: `customer()` gives the customer id, from `flask.request`, `flask.g`...
        entity: `entity()` gives the entity id (a seat, a workspace), or None.
        required_balance: How much of the feature the request needs (`balances.check`'s).
        send_event: Record the usage when allowed (`balances.check`'s).
        with_preview: Ask for the paywall preview, which a denial carries (on by default).
        properties: Event properties (`balances.check`'s).
        status_code: The status of a denial (402).
        denied_body: Builds a denial's JSON body from the `CheckResponse`; None: the default body.

    When allowed, `feature_check()` (and `g.meterly_check`) holds the `CheckResponse` (a fail-open
    answer too, marked by `is_fallback`); when denied the view does not run and `FeatureDenied` is
    raised: Flask answers `status_code` with `denied_body(result)` as JSON. Errors of the service are
    not denials: they raise the SDK's errors, which Flask answers 500 unless the app handles them.
    An `async def` view is gated by the same client (Flask runs it in an event loop of its own).
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

    def check() -> None:
        customer_id = customer()
        entity_id = None if entity is None else entity()
        result = get_client().balances.check(customer_id=customer_id, entity_id=entity_id, **options)
        if not result.allowed:
            raise FeatureDenied(result, status_code, build(result))
        setattr(g, _CHECK, result)

    def decorate(view: V) -> V:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_gated(*args: Any, **kwargs: Any) -> Any:
                check()
                return await view(*args, **kwargs)

            return cast(V, async_gated)

        @functools.wraps(view)
        def gated(*args: Any, **kwargs: Any) -> Any:
            check()
            return view(*args, **kwargs)

        return cast(V, gated)

    return decorate
