"""Request bodies as the sandbox reads them: a parser compiled once from an operation's request model
(the aliases give the JSON keys, the annotations and constraints the checks), and the `Body` it yields.

The checks are the services': a refusal is a 400 `ProtocolError` naming the JSON key at fault. Numbers
are read exactly (`Decimal`), and text stays as sent.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Literal,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
)

import pydantic
from typing_extensions import TypeGuard

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._world import Missing

T = TypeVar("T")

Read = Callable[[Mapping[str, Any], str], Any]
"""Reads one field from a JSON body by its key; raises ProtocolError."""


class Body:
    """A request body that passed its operation's checks, read by the request model's field names."""

    __slots__ = ("_keys", "_sent", "_values")

    def __init__(self, values: Dict[str, Any], keys: Mapping[str, str], sent: Any = ()) -> None:
        self._values = values
        self._keys = keys
        self._sent = frozenset(sent)

    def key(self, name: str) -> str:
        """The JSON key of field `name`, as errors name it (`customer_id` -> `customerId` for Commet)."""
        return self._keys[name]

    def text(self, name: str) -> str:
        return cast(str, self._values[name])

    def optional_text(self, name: str) -> Optional[str]:
        return cast(Optional[str], self._values[name])

    def number(self, name: str) -> Optional[Decimal]:
        return cast(Optional[Decimal], self._values[name])

    def whole(self, name: str) -> int:
        return cast(int, self._values[name])

    def flag(self, name: str) -> bool:
        return cast(bool, self._values[name])

    def mapping(self, name: str) -> Dict[str, Any]:
        return cast(Dict[str, Any], self._values[name])

    def records(self, name: str) -> List[Dict[str, str]]:
        return cast(List[Dict[str, str]], self._values[name])

    def nested(self, name: str) -> Optional[Body]:
        return cast(Optional[Body], self._values[name])

    def given(self, name: str) -> bool:
        """Whether the request sent field `name` (a default the parser filled in is not sent)."""
        return self._keys[name] in self._sent

    def get(self, name: str) -> Any:
        """Field `name`'s value, or None when the model has no such field."""
        return self._values.get(name)


def body_parser(model: type[pydantic.BaseModel]) -> Callable[[Mapping[str, Any]], Body]:
    """The parser of `model`'s JSON body; fields are checked in declaration order."""
    fields: Tuple[Tuple[str, str, Read], ...] = tuple(
        (name, info.alias or name, _reader(name, info)) for name, info in model.model_fields.items()
    )
    keys = {name: key for name, key, _ in fields}

    def parse(raw: Mapping[str, Any]) -> Body:
        return Body({name: read(raw, key) for name, key, read in fields}, keys, raw.keys())

    return parse


def strict_parser(
    model: type[pydantic.BaseModel], not_emulated: Tuple[str, ...] = ()
) -> Callable[[Mapping[str, Any]], Body]:
    """`body_parser`, and a 400 naming any key of `not_emulated`: a field of the real service that the
    sandbox does not emulate is refused, never silently ignored. Keys nobody defined are ignored, as the
    published schemas allow."""
    parse = body_parser(model)
    refused = frozenset(not_emulated)

    def parse_strict(raw: Mapping[str, Any]) -> Body:
        if refused:
            unknown = sorted(refused.intersection(raw))
            if unknown:
                raise _refuse(unknown[0], "is not emulated by the sandbox: leave it out of sandbox tests")
        return parse(raw)

    return parse_strict


def _refuse(key: str, problem: str) -> ProtocolError:
    return ProtocolError(400, INVALID, f"{key} {problem}", key)


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        rest = tuple(arg for arg in get_args(annotation) if arg is not type(None))
        return rest[0] if len(rest) == 1 else Union[rest]
    return annotation


def _reader(name: str, info: Any) -> Read:
    """The reader of one field, from its annotation; an annotation the sandbox cannot read is a TypeError
    when the operation is loaded, never a wrong answer."""
    base = _without_none(info.annotation)
    required: bool = info.is_required()
    if base is str:
        return _text(required)
    if base is datetime:
        return _timestamp(required)
    if base is bool:
        return _flag
    if base is float:
        return _number(required)
    if base is int:
        return _whole(required, *_bounds(info.metadata))
    if get_origin(base) is dict and get_args(base) == (str, Any):
        return _object
    if get_origin(base) is Literal:
        return _choice(required, get_args(base))
    if _is_model(base):
        return _nested(strict_parser(base))
    if get_origin(base) is list:
        (item,) = get_args(base)
        if _is_model(item):
            return _records(item)
    raise TypeError(
        f"the sandbox cannot read field {name!r} ({info.annotation!r}): add a reader to {__name__}"
    )


def _is_model(annotation: Any) -> TypeGuard[type[pydantic.BaseModel]]:
    """True for a pydantic model class. On Python 3.10 `list[str]` and its kin pass `isinstance(_, type)`
    and then fail `issubclass`: a parameterized type is never a model."""
    return (
        get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, pydantic.BaseModel)
    )


def _text(required: bool) -> Read:
    def read(body: Mapping[str, Any], key: str) -> Optional[str]:
        value = body.get(key)
        if value is None and key not in body and not required:
            return None
        if not isinstance(value, str) or not value:
            raise _refuse(key, "is required" if key not in body else "must be a non-empty string")
        return value

    return read


def _timestamp(required: bool) -> Read:
    read_text = _text(required)

    def read(body: Mapping[str, Any], key: str) -> Optional[str]:
        value: Optional[str] = read_text(body, key)
        if value is not None:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _refuse(key, "must be an ISO 8601 date-time") from None
        return value

    return read


def _flag(body: Mapping[str, Any], key: str) -> bool:
    if key not in body:
        return False
    value = body[key]
    if not isinstance(value, bool):
        raise _refuse(key, "must be a boolean")
    return value


def _number(required: bool) -> Read:
    def read(body: Mapping[str, Any], key: str) -> Optional[Decimal]:
        if key not in body:
            if required:
                raise _refuse(key, "is required")
            return None
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise _refuse(key, "must be a number")
        return Decimal(value)

    return read


def _bounds(metadata: List[Any]) -> Tuple[Optional[int], Optional[int]]:
    import annotated_types  # pydantic's constraint types; loaded when a sandbox is first built

    low = next((cast(int, m.ge) for m in metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((cast(int, m.le) for m in metadata if isinstance(m, annotated_types.Le)), None)
    return low, high


def _whole(required: bool, low: Optional[int], high: Optional[int]) -> Read:
    if low is not None and high is not None:
        problem = f"must be a whole number from {low} to {high}"
    elif low is not None:
        problem = f"must be a whole number at least {low}"
    elif high is not None:
        problem = f"must be a whole number at most {high}"
    else:
        problem = "must be a whole number"

    def read(body: Mapping[str, Any], key: str) -> Optional[int]:
        if key not in body:
            if required:
                raise _refuse(key, "is required")
            return None
        value = body[key]
        if isinstance(value, Decimal) and value == value.to_integral_value():
            value = int(value)  # 3.0 is an integer in JSON Schema
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            raise _refuse(key, problem)
        return value

    return read


def _choice(required: bool, choices: Tuple[Any, ...]) -> Read:
    problem = "must be one of " + ", ".join(json_text(c) for c in choices)

    def read(body: Mapping[str, Any], key: str) -> Any:
        if key not in body:
            if required:
                raise _refuse(key, "is required")
            return None
        value = body[key]
        if not any(value == c and type(value) is type(c) for c in choices):
            raise _refuse(key, problem)
        return value

    return read


def json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _nested(parse: Callable[[Mapping[str, Any]], Body]) -> Read:
    """An object read by its own model's parser; a refusal names the key inside (`lock.lock_id`)."""

    def read(body: Mapping[str, Any], key: str) -> Optional[Body]:
        if key not in body:
            return None
        value = body[key]
        if not isinstance(value, dict):
            raise _refuse(key, "must be an object")
        try:
            return parse(cast(Dict[str, Any], value))
        except ProtocolError as error:
            inner = f"{key}.{error.param}"
            raise ProtocolError(error.status, error.code, f"{key}.{error.message}", inner) from None

    return read


def _object(body: Mapping[str, Any], key: str) -> Dict[str, Any]:
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise _refuse(key, "must be an object")
    return cast(Dict[str, Any], value)


def _records(model: type[pydantic.BaseModel]) -> Read:
    """A list of objects of strings with `model`'s keys (other keys are allowed, and dropped)."""
    if any(info.annotation is not str for info in model.model_fields.values()):
        raise TypeError(f"the sandbox reads lists of objects of strings only, not of {model.__name__}")
    keys = tuple(info.alias or name for name, info in model.model_fields.items())
    shape = "{" + ", ".join(f'"{k}"' for k in keys) + "}"
    problem = f"must be a list of {shape} {'pairs' if len(keys) == 2 else 'objects'} of strings"

    def record(item: object) -> Optional[Dict[str, str]]:
        if not isinstance(item, dict):
            return None
        values = cast(Dict[str, Any], item)
        picked = {k: values.get(k) for k in keys}
        return cast(Dict[str, str], picked) if all(isinstance(v, str) for v in picked.values()) else None

    def read(body: Mapping[str, Any], key: str) -> List[Dict[str, str]]:
        value = body.get(key, [])
        items: List[object] = [*value] if isinstance(value, list) else [None]
        records: List[Dict[str, str]] = []
        for item in items:
            picked = record(item)
            if picked is None:
                raise _refuse(key, problem)
            records.append(picked)
        return records

    return read


def found(body: Body, name: str, lookup: Callable[[str], T]) -> T:
    """What `lookup` finds by field `name`; a world's `Missing` is the service's 404 naming that field.

    customer = found(body, "customer_id", world.customer)
    """
    return found_value(body.text(name), body.key(name), lookup)


def found_value(value: str, key: str, lookup: Callable[[str], T]) -> T:
    """`found` for a value already read: a world's `Missing` is the service's 404 naming `key`."""
    try:
        return lookup(value)
    except Missing as missing:
        raise ProtocolError(404, f"{missing.kind}_not_found", missing.message, key) from None
