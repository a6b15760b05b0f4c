"""Turning an HTTP response into a result or a typed error; pure functions of the response."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional, Type, TypeVar, cast

import httpx
import pydantic

from meterly import errors
from meterly.utils.retries import retry_after_seconds

T = TypeVar("T")

_ERRORS_BY_STATUS: Dict[int, Type[errors.APIError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
}


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def error_fields(body: str) -> Dict[str, Any]:
    """`message`, `code`, `type`, `param`, `details`, `doc_url` from either error shape, when present.

    The shapes are `{"message", "code"}` and `{"success": false, "error": {"type", "code", ...}}`.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser will go
        return {}
    if not isinstance(data, dict):
        return {}
    data = cast("Dict[str, Any]", data)
    detail: Any = data.get("error")
    if isinstance(detail, dict):
        data = cast("Dict[str, Any]", detail)
    elif isinstance(detail, str) and "message" not in data:
        data = {**data, "message": detail}
    return {
        "message": _text(data.get("message")),
        "code": _text(data.get("code")),
        "type": _text(data.get("type")),
        "param": _text(data.get("param")),
        "details": data.get("details"),
        "doc_url": _text(data.get("doc_url")),
    }


def error_from_response(operation_id: str, response: httpx.Response, secret: str = "") -> errors.APIError:
    """The `errors.APIError` subclass for a non-2xx response; the body is kept as received."""
    status = response.status_code
    body = response.text
    fields = error_fields(body)
    message = fields.pop("message", None) or f"{status} {response.reason_phrase}".strip()
    if status == 404 and fields.get("code") in (None, "route_not_found"):
        message = _route_not_found(response) or message
    elif 300 <= status < 400:
        message = _redirect_refused(response)
    if secret and secret in message:
        message = message.replace(secret, "[REDACTED]")
    message = f"{operation_id}: {message}"
    cls = _ERRORS_BY_STATUS.get(status)
    if cls is None:
        cls = errors.InternalServerError if status >= 500 else errors.APIError
    if cls is errors.RateLimitError:
        return errors.RateLimitError(
            message,
            raw_response=response,
            body=body,
            retry_after=retry_after_seconds(response.headers),
            **fields,
        )
    return cls(message, raw_response=response, body=body, **fields)


def _route_not_found(response: httpx.Response) -> Optional[str]:
    """The message of a 404 that is not a service's own "no such customer" or "no such feature": the
    server has no such route, most often because `server_url` is wrong. Names the URL, never its
    user, password or query."""
    try:
        request = response.request
    except RuntimeError:  # a response built without its request
        return None
    url = request.url.copy_with(username=None, password=None, query=None, fragment=None)
    hint = "check server_url"
    if "/v1/v1/" in url.path:
        hint += ": it should not end with /v1, the SDK adds the path"
    return f"route not found: {request.method} {url} answered 404 ({hint})"


def _redirect_refused(response: httpx.Response) -> str:
    """The message of a 3xx: the SDK never follows a redirect (on any engine, whatever the injected
    client's own setting), so no key ever reaches an address other than the one `server_url` names.
    Names the target without its user, password or query."""
    location = response.headers.get("location")
    target = "another address"
    if location:
        try:
            url = response.request.url.join(location)
            target = str(url.copy_with(username=None, password=None, query=None, fragment=None))
        except (httpx.InvalidURL, ValueError, RuntimeError):  # RuntimeError: built without its request
            target = "an address that is not a valid URL"
    return (
        f"redirect ({response.status_code}) to {target} not followed: the SDK sends keys only to "
        "server_url; point server_url at the final address"
    )


def is_the_services_json(error: errors.ResponseValidationError) -> bool:
    """Whether the 2xx body `error` was raised for is JSON, as the service sends: False when the body
    does not parse as JSON, or when its content type says it is something else (a captive portal's or a
    misrouted proxy's page). A response without a content type is judged by its body alone."""
    content_type = error.headers.get("content-type")
    if content_type is not None:
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            return False
    cause = error.cause
    if isinstance(cause, pydantic.ValidationError):
        return not any(problem["type"] == "json_invalid" for problem in cause.errors())
    return True


def parse_success(
    operation_id: str, parse: Callable[[bytes], T], response: httpx.Response
) -> T | errors.ResponseValidationError:
    """The parsed result of a 2xx response, or a ResponseValidationError that keeps the body.

    A 202 result is marked degraded (`CheckResponse.is_degraded`).
    """
    try:
        result = parse(response.content)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)[:3]
        )
        return errors.ResponseValidationError(
            f"{operation_id}: the {response.status_code} response does not fit {exc.title}: {problems}",
            raw_response=response,
            cause=exc,
        )
    if response.status_code == 202:  # accepted while degraded: a real answer, but not a normal one
        from meterly.models._fallback import mark_degraded

        mark_degraded(result)
    return result
