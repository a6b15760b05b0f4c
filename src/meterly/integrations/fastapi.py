"""FastAPI (and Starlette) gates: `RequireFeature`, a dependency that checks a feature before the endpoint.

`pip install 'meterly[fastapi]'`. One `AsyncMeterly` lives in the app's lifespan (`meterly_lifespan`);
`get_meterly` is the dependency that hands it out, so tests can replace it with
`app.dependency_overrides[get_meterly]`. A denial raises `FeatureDenied`, an `HTTPException` (402 by
default, its `detail` the preview), which FastAPI turns into the response.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, Dict, Optional

from meterly.integrations._extra import missing

try:
    from fastapi import Depends, HTTPException, Request
except ImportError:  # pragma: no cover - exercised by the plain-install wheel test
    raise missing(__name__, "fastapi", "fastapi") from None

from typing_extensions import Unpack

from meterly import models
from meterly._keywords import AsyncMeterlyKeywords
from meterly.errors import RequestValidationError
from meterly.integrations._gate import DENIED_STATUS, DeniedBody, check_gate, default_denied_body
from meterly.sdk import AsyncMeterly

if TYPE_CHECKING:
    from meterly.outbox import AsyncClientOutbox

__all__ = ["FeatureDenied", "RequireFeature", "get_meterly", "meterly_lifespan"]

_STATE = "meterly"


def meterly_lifespan(
    sdk: Optional[AsyncMeterly] = None, /, **options: Unpack[AsyncMeterlyKeywords]
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan for `FastAPI(lifespan=...)` holding one `AsyncMeterly` for the app's whole life.

    Args:
        sdk: A client you own, used as it is and left open; None builds one from the keywords.
        **options: `AsyncMeterly`'s keywords (`AsyncMeterlyKeywords`, generated from the one declaration
            of the client options, so a misspelt one is a type error); the client is built with them.

    The client is built when the app starts and closed when it stops. With an outbox (`outbox=True` or
    a `meterly.Outbox`), the app's start starts its sender on the app's event loop (delivering what an
    earlier process left in a durable file), and the app's stop delivers what waits, for at most the
    outbox's `close_timeout_ms`: the outbox of a client the lifespan built is closed with it; that of a
    client you own is flushed and left open.

    Inside a lifespan of your own: `async with meterly_lifespan(...)(app): yield`.
    """
    if sdk is not None and not isinstance(sdk, AsyncMeterly):
        raise TypeError("meterly_lifespan takes an AsyncMeterly (or AsyncMeterly keywords)")
    if sdk is not None and options:
        raise TypeError("give meterly_lifespan a client or AsyncMeterly keywords, not both")
    unknown = sorted(set(options) - _KEYWORDS)
    if unknown:  # callers that do not type-check get the constructor's own message, before the app starts
        raise TypeError(f"meterly_lifespan got unexpected keyword argument {unknown[0]!r}")
    client_kwargs: Dict[str, Any] = dict(options)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncGenerator[None, None]:
        client = sdk if sdk is not None else AsyncMeterly(**client_kwargs)
        outbox = _outbox_of(client)
        if outbox is not None:
            outbox.start()
        setattr(app.state, _STATE, client)
        try:
            yield
        finally:
            delattr(app.state, _STATE)
            if sdk is None:
                await client.aclose()
            elif outbox is not None:
                await outbox.flush(timeout_ms=outbox.config.close_timeout_ms)

    return lifespan


def _outbox_of(client: AsyncMeterly) -> Optional[AsyncClientOutbox]:
    try:
        return client.outbox
    except RequestValidationError:  # a client without one
        return None


_KEYWORDS = frozenset(AsyncMeterlyKeywords.__annotations__)
"""The keywords `meterly_lifespan` takes on to `AsyncMeterly`."""


def get_meterly(request: Request) -> AsyncMeterly:
    """The app's `AsyncMeterly` (a dependency); raises RuntimeError when no lifespan provides one."""
    client = getattr(request.app.state, _STATE, None)
    if not isinstance(client, AsyncMeterly):
        raise RuntimeError(
            "no AsyncMeterly for this app: create it with FastAPI(lifespan=meterly_lifespan(...)) and "
            "serve it with its lifespan (TestClient: `with TestClient(app) as client:`), or override "
            "the get_meterly dependency"
        )
    return client


class FeatureDenied(HTTPException):
    """The customer may not use the feature: FastAPI answers `status_code` with `{"detail": ...}`.

    `result` is the check's answer, for an exception handler that renders its own paywall.
    """

    detail: Any
    """The denial's JSON body: `denied_body(result)`, by default a dict with `code`, `message`, `preview`
    (the paywall, a dict, or None) and `fallback_reason`. Starlette types `detail` as `str`; here it is
    whatever `denied_body` built."""
    result: models.CheckResponse
    """The check's answer that denied the request."""

    def __init__(self, result: models.CheckResponse, status_code: int, detail: Any) -> None:
        super().__init__(status_code=status_code, detail=detail)
        self.result = result


class RequireFeature:
    """A dependency: `Depends(RequireFeature("messages", customer=current_customer_id))`.

    `customer` (and `entity`) are dependencies themselves, resolved by FastAPI like any other. The
    dependency calls `balances.check` and returns its `CheckResponse` when allowed, else raises
    `FeatureDenied`. A fail-open answer (`result.is_fallback`) passes the same way, marked, so the
    endpoint can tell it apart. Previews are asked for by default, so a denial can show the paywall.
    """

    def __init__(
        self,
        feature_id: str,
        *,
        customer: Callable[..., Any],
        entity: Optional[Callable[..., Any]] = None,
        required_balance: Optional[float] = None,
        send_event: Optional[bool] = None,
        with_preview: Optional[bool] = True,
        properties: Optional[Dict[str, Any]] = None,
        status_code: int = DENIED_STATUS,
        denied_body: Optional[DeniedBody] = None,
    ) -> None:
        """Declare the gate; bad arguments raise RequestValidationError here, when the app is defined.

        Args:
            feature_id: The feature the endpoint needs.
            customer: A dependency giving the customer id (a header, the signed-in user...).
            entity: A dependency giving the entity id (a seat, a workspace), or None.
            required_balance: How much of the feature the request needs (`balances.check`'s).
            send_event: Record the usage when allowed (`balances.check`'s).
            with_preview: Ask for the paywall preview, which a denial carries (on by default).
            properties: Event properties (`balances.check`'s).
            status_code: The status of a denial (402).
            denied_body: Builds a denial's `detail` from the `CheckResponse`; None: the default body.
        """
        self.options = check_gate(
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
        self.feature_id = feature_id
        self.status_code = status_code
        self.denied_body = denied_body
        # FastAPI reads a dependency's parameters from its signature: these make `customer` and `entity`
        # sub-dependencies of this one.
        keyword = inspect.Parameter.KEYWORD_ONLY
        parameters = [
            inspect.Parameter("meterly", keyword, default=Depends(get_meterly), annotation=AsyncMeterly),
            inspect.Parameter("customer_id", keyword, default=Depends(customer), annotation=Any),
        ]
        if entity is not None:
            entity_id = inspect.Parameter("entity_id", keyword, default=Depends(entity), annotation=Any)
            parameters.append(entity_id)
        self.__signature__ = inspect.Signature(parameters, return_annotation=models.CheckResponse)

    async def __call__(
        self, *, meterly: AsyncMeterly, customer_id: Any, entity_id: Any = None
    ) -> models.CheckResponse:
        result = await meterly.balances.check(customer_id=customer_id, entity_id=entity_id, **self.options)
        if not result.allowed:
            build = self.denied_body or default_denied_body
            raise FeatureDenied(result, self.status_code, build(result))
        return result

    def __repr__(self) -> str:
        return f"RequireFeature({self.feature_id!r})"
