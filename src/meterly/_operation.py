"""How an operation is declared: its path, security scheme, parameters and response parser."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Generic, Mapping, NamedTuple, Optional, Tuple, TypeVar, cast

import pydantic

from meterly._config import has_control_chars
from meterly.errors import RequestValidationError

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

MAX_SAFE_INTEGER = 2**53 - 1


class SecurityScheme(NamedTuple):
    """Where a key goes: the `models.Security` attribute it comes from and the header it is sent in."""

    attribute: str
    header: str
    prefix: str


BEARER_AUTH = SecurityScheme("bearer_auth", "authorization", "Bearer ")
API_KEY_AUTH = SecurityScheme("api_key_auth", "x-api-key", "")


def check_id(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise RequestValidationError(name, f"must be a str, got {type(value).__name__}")
    if not value:
        raise RequestValidationError(name, "must not be empty")
    if has_control_chars(value):
        raise RequestValidationError(name, "must not contain control characters such as CR or LF")


def check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestValidationError(name, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise RequestValidationError(name, f"must be a finite number, got {value!r}")


def check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestValidationError(name, f"must be an int, got {type(value).__name__}")
    if not 1 <= value <= MAX_SAFE_INTEGER:
        raise RequestValidationError(name, f"must be between 1 and {MAX_SAFE_INTEGER}, got {value}")


def check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise RequestValidationError(name, f"must be a bool, got {type(value).__name__}")


def check_object(name: str, value: Any) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(key, str) for key in cast("Dict[object, object]", value)
    ):
        raise RequestValidationError(name, "must be a dict with str keys")


class Param(NamedTuple):
    """One body parameter: its Python name, JSON key, check, and whether it must be given.

    A tuple, so the pipeline unpacks it in one step on every call.
    """

    name: str
    key: str
    check: Callable[[str, Any], None]
    required: bool = False
    nested: bool = False
    """True when a value that passed `check` may hold containers (so it is not a plain JSON scalar)."""


def never_writes(args: Mapping[str, Any]) -> bool:
    """For an operation that only reads."""
    return False


class Operation(Generic[T]):
    """A short declaration of an endpoint; `parse` turns a 2xx body into the result.

    A plain class rather than a dataclass: building dataclasses is a measurable part of `import meterly`.
    """

    __slots__ = (
        "fallback",
        "feature_param",
        "method",
        "operation_id",
        "params",
        "parse",
        "path",
        "resource",
        "security",
        "version_header",
        "writes",
    )

    def __init__(
        self,
        *,
        operation_id: str,
        path: str,
        security: SecurityScheme,
        params: Tuple[Param, ...],
        parse: Callable[[bytes], T],
        fallback: Callable[[Mapping[str, Any], bool], T],
        feature_param: str = "",
        method: str = "POST",
        resource: str = "",
        version_header: Optional[Tuple[str, str]] = None,
        writes: Callable[[Mapping[str, Any]], bool] = never_writes,
    ) -> None:
        self.operation_id = operation_id
        self.path = path
        self.security = security
        self.params = params
        self.parse = parse
        self.fallback = fallback
        """Builds the fail-open answer from the call's arguments and whether it allows."""
        self.feature_param = feature_param
        """The argument a `FailOpenPolicy` looks up per feature."""
        self.method = method
        self.resource = resource
        """The client attribute the operation lives on (`balances`, `usage`): the key of the client's
        per-resource `server_urls` and `api_versions`."""
        self.version_header = version_header
        """(lower-case header name, default version): the API version every request pins, so the service
        answers in the shape the models were written for."""
        self.writes = writes
        """Whether a call with these arguments records usage: such a call never stores or gets a
        fail-open last-known answer."""

    def __repr__(self) -> str:
        return f"Operation({self.operation_id!r}, {self.method} {self.path})"


def json_parser(model: Callable[[], type[M]]) -> Callable[[bytes], M]:
    """A parser with `model()`'s compiled validator, fetched at the first parse: models (and their
    modules) load and compile when first used, not at import."""
    validate_json: Optional[Callable[[bytes], M]] = None

    def parse(content: bytes) -> M:
        nonlocal validate_json
        if validate_json is None:
            validate_json = model().__pydantic_validator__.validate_json
        return validate_json(content)

    return parse
