"""FastAPI (and Starlette) gates: `RequireFeature`, a dependency that checks a feature before the endpoint.

`pip install 'meterly[fastapi]'`. One `AsyncMeterly` lives in the app's lifespan (`meterly_lifespan`);
`get_meterly` is the dependency that hands it out, so tests can replace it with
`app.dependency_overrides[get_meterly]`. A denial raises `FeatureDenied`, an `HTTPException` (402 by
default, its `detail` the preview), which FastAPI turns into the response.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, Dict, Iterable, Mapping, Optional, Union

import httpx

from meterly.integrations._extra import missing

try:
    from fastapi import Depends, HTTPException, Request
except ImportError:  # pragma: no cover - exercised by the plain-install wheel test
    raise missing(__name__, "fastapi", "fastapi") from None

from meterly import models
from meterly._config import ApiKey, SecuritySource
from meterly._engines.seam import HttpBackend
from meterly.integrations._gate import DENIED_STATUS, DeniedBody, check_gate, default_denied_body
from meterly.sdk import AsyncMeterly
from meterly.types import UNSET, Unset
from meterly.utils.retries import RetryConfig

if TYPE_CHECKING:
    import aiohttp

    from meterly._fail_open import FailOpenPolicy
    from meterly.hooks import AsyncHook

__all__ = ["FeatureDenied", "RequireFeature", "get_meterly", "meterly_lifespan"]

_STATE = "meterly"


def meterly_lifespan(
    sdk: Optional[AsyncMeterly] = None,
    /,
    *,
    api_key: Optional[ApiKey] = None,
    security: Optional[SecuritySource] = None,
    server_url: Optional[str] = None,
    server_idx: int = 0,
    timeout_ms: Optional[int] = None,
    retry_config: Union[RetryConfig, Unset, None] = UNSET,
    max_retries: Optional[int] = None,
    client: Union[httpx.AsyncClient, aiohttp.ClientSession, None] = None,
    debug_logger: Optional[logging.Logger] = None,
    fail_open: Union[bool, FailOpenPolicy] = False,
    hooks: Iterable[AsyncHook] = (),
    http_backend: HttpBackend = "httpx",
    server_urls: Optional[Mapping[str, str]] = None,
    api_versions: Optional[Mapping[str, str]] = None,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan for `FastAPI(lifespan=...)` holding one `AsyncMeterly` for the app's whole life.

    Args:
        sdk: A client you own, used as it is and left open; None builds one from the keywords.
        api_key: `AsyncMeterly`'s: the key, or a callable returning it; None reads `METERLY_API_KEY`.
        security: `AsyncMeterly`'s: keys per security scheme.
        server_url: `AsyncMeterly`'s: the server; None reads `METERLY_SERVER_URL`.
        server_idx: `AsyncMeterly`'s: which of `meterly.SERVERS` when no `server_url` is given.
        timeout_ms: `AsyncMeterly`'s: the timeout of each attempt, in milliseconds.
        retry_config: `AsyncMeterly`'s: the retry policy; UNSET is the default, None never retries.
        max_retries: `AsyncMeterly`'s: at most this many retries per call.
        client: `AsyncMeterly`'s: an `httpx.AsyncClient` (or `aiohttp.ClientSession`) to send with.
        debug_logger: `AsyncMeterly`'s: a logger that gets one DEBUG line per attempt.
        fail_open: `AsyncMeterly`'s: `True` or a `FailOpenPolicy` to answer checks during an outage.
        hooks: `AsyncMeterly`'s: objects that see every attempt.
        http_backend: `AsyncMeterly`'s: `"httpx"` or `"aiohttp"`.
        server_urls: `AsyncMeterly`'s: a server per resource.
        api_versions: `AsyncMeterly`'s: the API version each resource pins.

    The keywords are `AsyncMeterly`'s, typed and with its defaults (so a misspelt one is a type error);
    the client is built when the app starts and closed when it stops.

    Inside a lifespan of your own: `async with meterly_lifespan(...)(app): yield`.
    """
    given = dict(locals())
    del given["sdk"]
    defaults = _LIFESPAN_DEFAULTS
    client_kwargs = {name: value for name, value in given.items() if value is not defaults[name]}
    if sdk is not None and not isinstance(sdk, AsyncMeterly):
        raise TypeError("meterly_lifespan takes an AsyncMeterly (or AsyncMeterly keywords)")
    if sdk is not None and client_kwargs:
        raise TypeError("give meterly_lifespan a client or AsyncMeterly keywords, not both")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncGenerator[None, None]:
        client = sdk if sdk is not None else AsyncMeterly(**client_kwargs)
        setattr(app.state, _STATE, client)
        try:
            yield
        finally:
            delattr(app.state, _STATE)
            if sdk is None:
                await client.aclose()

    return lifespan


_LIFESPAN_DEFAULTS: Dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(meterly_lifespan).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}
"""The keywords' defaults: a keyword left at its default is not passed on, so AsyncMeterly's own applies."""


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
