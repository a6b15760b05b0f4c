"""How an operation is declared (`Operation`), and how its body parameters are compiled from its request
model: the aliases give the JSON keys, the annotations and field constraints give the checks.

The declarations themselves live one per module in `meterly._endpoints`; `meterly._registry` lists them.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from datetime import datetime
from typing import (
    Any,
    Callable,
    Dict,
    Generic,
    Iterable,
    List,
    Literal,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
)

import pydantic
import pydantic_core

from meterly._arg import Arg
from meterly._text import has_control_chars
from meterly.errors import RequestValidationError, shown

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

Check = Callable[[str, Any], Any]
"""Checks one argument (`name` for the error) and returns the value to send; raises RequestValidationError."""

_compile_lock = threading.Lock()
"""Held while a body or a validator compiles: threads whose first calls meet compile it once, not once
each (48 threads each building the same pydantic schema took the GIL for hundreds of ms)."""


def _new_lock_after_fork() -> None:
    global _compile_lock
    _compile_lock = threading.Lock()  # a thread of the parent may have held it when it forked


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


class SecurityScheme(NamedTuple):
    """Where a key goes: the `models.Security` attribute it comes from and the header it is sent in."""

    attribute: str
    header: str
    prefix: str


BEARER_AUTH = SecurityScheme("bearer_auth", "authorization", "Bearer ")
API_KEY_AUTH = SecurityScheme("api_key_auth", "x-api-key", "")


class VersionHeader(NamedTuple):
    """The header (lower case) that pins the API version an operation's models were written for, and the
    version sent by default."""

    name: str
    default: str


Dedup = Literal["header", "body_key", "none"]
"""How the service deduplicates a repeated request: `"header"` it honours `Idempotency-Key` (Commet, 24 h);
`"body_key"` each item of the body carries its own key (Autumn's batch_track items); `"none"` it does
not, so a resent write may be counted twice (Autumn's check with `send_event`, track)."""

Echo = Tuple[str, str]
"""(request parameter, response attribute): the answer repeats what the request sent there."""


class ArrayBody(NamedTuple):
    """A body that is a JSON array of the request model: the one method argument that holds the items, and
    how many it takes (`balances.batch_track`'s `events`, 1 to 1,000)."""

    name: str
    min_items: int
    max_items: int


BODY_KEY = "idempotency_key"
"""The field of each item that a `dedup="body_key"` service deduplicates by; the SDK fills in a fresh
one for an item without it, once per call, so a resent body counts each item once."""


class Param(NamedTuple):
    """One body parameter: its Python name, JSON key, check, and whether it must be given.

    A tuple, so the pipeline unpacks it in one step on every call.
    """

    name: str
    key: str
    check: Check
    required: bool = False
    nested: bool = False
    """True when a value that passed `check` may hold containers (so it is not a plain JSON scalar)."""


class Operation(Generic[T]):
    """One endpoint, declared once: the SDK, the sandbox, the docs, the contract test and the CLI read it.

    Models are named by functions returning them, so their modules load (and compile) when first used,
    not at `import meterly`. A plain class rather than a dataclass: building dataclasses is a measurable
    part of `import meterly`.
    """

    __slots__ = (
        "_request",
        "_response",
        "allowed",
        "arg_docs",
        "array_body",
        "compiled",
        "dedup",
        "doc",
        "echoes",
        "envelope",
        "exactly_one_of",
        "example_setup",
        "fallback",
        "feature_param",
        "method",
        "method_name",
        "operation_id",
        "parse",
        "path",
        "resource",
        "security",
        "unsent_defaults",
        "version_header",
        "writes",
    )

    def __init__(
        self,
        *,
        operation_id: str,
        sdk_call: str,
        path: str,
        security: SecurityScheme,
        request: Callable[[], type[pydantic.BaseModel]],
        response: Callable[[], type[T]],
        envelope: Optional[Callable[[], type[pydantic.BaseModel]]] = None,
        writes: Union[bool, str, Tuple[str, ...]] = False,
        fallback: Optional[Callable[[Mapping[str, Any], bool], T]] = None,
        feature_param: str = "",
        allowed: Optional[Callable[[T], bool]] = None,
        version_header: Optional[VersionHeader] = None,
        method: str = "POST",
        dedup: Dedup = "none",
        echoes: Tuple[Echo, ...] = (),
        doc: str = "",
        arg_docs: Optional[Mapping[str, str]] = None,
        array_body: Optional[ArrayBody] = None,
        exactly_one_of: Tuple[str, ...] = (),
        example_setup: str = "",
    ) -> None:
        self.operation_id = operation_id
        self.resource, _, self.method_name = sdk_call.partition(".")
        """`client.<resource>.<method_name>(...)` calls it; the CLI's `meterly <resource> <method_name>`.
        The resource is also the key of the client's per-resource `server_urls` and `api_versions`."""
        self.path = path
        self.method = method
        self.security = security
        self._request = request
        self._response = response
        self.envelope = envelope
        """The model of the success body when the result is its `data`; None when the body is the result."""
        self.writes = writes
        """True when it records something, False when it only reads, or the names of the arguments that
        make it write when given (`send_event`, `lock`)."""
        self.fallback = fallback
        """Builds the fail-open answer from the call's arguments and whether it allows; None: never fails
        open (a write's failure is never hidden by a made-up answer)."""
        self.feature_param = feature_param
        """The argument a `FailOpenPolicy` looks up per feature."""
        self.allowed = allowed
        """Reads whether a check's answer allows (the CLI exits 1 when it does not); None: not a check."""
        self.version_header = version_header
        """The header pinning the API version every request sends (unless the client's `api_versions`
        names another for the resource), so the service answers in the shape the models were written
        for."""
        self.dedup = dedup
        """How the service deduplicates this request when it is sent again (`Dedup`)."""
        self.echoes = echoes
        """Which request fields the answer echoes, as (parameter, response attribute) pairs; a parameter
        left at None is not echoed. A reply that echoes other values answers another request."""
        self.doc = doc
        """The resource method's docstring without its `Args:` (summary, description and `Returns:`)."""
        self.arg_docs: Mapping[str, str] = arg_docs or {}
        """The `Args:` line of a body parameter where the method says more than the request model's field
        docstring (which follows the service's reference)."""
        self.array_body = array_body
        """None when the body is one JSON object of the request model's fields; else the body is a JSON
        array of request models, taken by the method as one sequence argument (`ArrayBody`)."""
        self.example_setup = example_setup
        """Calls the docs' example makes before this one, so that it runs against the sandbox's demo data
        (a finalize needs a lock held first)."""
        self.exactly_one_of = exactly_one_of
        """Arguments of which a call must give exactly one (`feature_id` or `event_name`)."""
        self.unsent_defaults: Tuple[Tuple[str, Any, str], ...] = ()
        """(key, SDK default, other key): the default is left out of a body that has the other key (set
        when the body is compiled, from each field's `Arg.unsent_with`)."""
        self.compiled: Optional[Tuple[Param, ...]] = None
        """The body parameters once compiled (`params`); the pipeline reads this slot directly. No
        `__getattr__` here: one would slow every attribute read of every operation."""
        self.parse: Callable[[bytes], T] = _parser(response, envelope)
        """Turns a 2xx body into the result; the validator is compiled at the first parse."""

    @property
    def request_model(self) -> type[pydantic.BaseModel]:
        """The model of the request body; its fields are the operation's body parameters."""
        return self._request()

    @property
    def response_model(self) -> type[T]:
        """The result's model (the `data` of the envelope when there is one)."""
        return self._response()

    @property
    def params(self) -> Tuple[Param, ...]:
        """The body parameters, compiled from the request model at first use."""
        return self.compiled if self.compiled is not None else self.compile()

    def compile(self) -> Tuple[Param, ...]:
        """Compiles the body parameters from the request model (once: later calls return them).

        A check by a pydantic adapter (a parameter of a type without a check of its own, such as
        `lock`) builds its adapter when it first checks a value; `warm` builds them all now.
        """
        if self.compiled is None:
            with _compile_lock:
                if self.compiled is None:
                    array = self.array_body
                    if array is None:
                        model = self._request()
                        self.unsent_defaults = _unsent_defaults(model)
                        params = body_params(model)
                    else:
                        check = _items_check(self._request(), array.min_items, array.max_items)
                        params = (Param(array.name, array.name, check, True, True),)
                    self.compiled = params  # last: the pipeline reads it without the lock
        return self.compiled

    def warm(self) -> None:
        """Does now what the first calls would: compiles the body parameters and every check's adapter,
        and the result's validator."""
        for param in self.compile():
            if isinstance(param.check, AdapterCheck):
                param.check.adapter()
            elif param.check is check_timestamp:
                _timestamp_parser()
        with contextlib.suppress(ValueError):  # an empty body compiles the validator, then fails it
            self.parse(b"{}")

    def writes_with(self, args: Mapping[str, Any]) -> bool:
        """Whether a call with these arguments records something."""
        writes = self.writes
        if isinstance(writes, bool):
            return writes
        if isinstance(writes, str):
            return bool(args.get(writes))
        return any(args.get(name) for name in writes)

    def __repr__(self) -> str:
        return f"Operation({self.operation_id!r}, {self.method} {self.path})"


def _parser(
    response: Callable[[], type[T]], envelope: Optional[Callable[[], type[pydantic.BaseModel]]]
) -> Callable[[bytes], T]:
    """A parser with the model's compiled validator, fetched at the first parse: models (and their
    modules) load and compile when first used, not at import."""
    if envelope is None:
        return json_parser(cast(Callable[[], "type[Any]"], response))
    parse_envelope = json_parser(envelope)

    def parse(content: bytes) -> T:
        data: T = getattr(parse_envelope(content), "data")  # noqa: B009  # any envelope model
        return data

    return parse


def json_parser(model: Callable[[], type[M]]) -> Callable[[bytes], M]:
    """A parser with `model()`'s compiled validator, fetched at the first parse."""
    validate_json: Optional[Callable[[bytes], M]] = None

    def parse(content: bytes) -> M:
        nonlocal validate_json
        if validate_json is None:
            with _compile_lock:
                if validate_json is None:
                    cls = model()
                    cls.model_rebuild()  # builds the deferred validator once, under the lock
                    validate_json = cls.__pydantic_validator__.validate_json
        return validate_json(content)

    return parse


# -- body parameters from a request model ------------------------------------------------------------


def body_params(model: type[pydantic.BaseModel]) -> Tuple[Param, ...]:
    """The parameters of a request body, one per field of `model`, in declaration order.

    The common types get a check written out in Python (a call checks its arguments in well under a
    microsecond); any other annotation is checked and serialized by a pydantic adapter built here once.
    Every str parameter also refuses control characters: ids end up in the services' logs.
    """
    params: List[Param] = []
    for name, info in model.model_fields.items():
        check, nested = _compile_check(name, info)
        params.append(Param(name, info.alias or name, check, info.is_required(), nested))
    return tuple(params)


def _unsent_defaults(model: type[pydantic.BaseModel]) -> Tuple[Tuple[str, Any, str], ...]:
    found: List[Tuple[str, Any, str]] = []
    for name, info in model.model_fields.items():
        for item in info.metadata:
            if isinstance(item, Arg) and item.unsent_with:
                other = model.model_fields[item.unsent_with]
                found.append((info.alias or name, item.default, other.alias or item.unsent_with))
    return tuple(found)


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        rest = tuple(arg for arg in get_args(annotation) if arg is not type(None))
        return rest[0] if len(rest) == 1 else Union[rest]
    return annotation


def _bounds(metadata: Any) -> Tuple[Optional[float], Optional[float]]:
    import annotated_types  # pydantic's constraint types; loaded when a body is first compiled

    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = cast(float, item.ge)
        elif isinstance(item, annotated_types.Le):
            high = cast(float, item.le)
        elif isinstance(item, (annotated_types.Gt, annotated_types.Lt)):
            raise TypeError("request models bound numbers with ge/le only")
    return low, high


def _compile_check(name: str, info: Any) -> Tuple[Check, bool]:
    """The check of one field, and whether its values may be containers."""
    import annotated_types

    base = _without_none(info.annotation)
    metadata = info.metadata
    if get_origin(base) is Literal:
        return _adapter_check(info), False
    if any(type(item).__module__ == "pydantic.functional_validators" for item in metadata):
        # the field's own validator turns what the method takes into what the wire carries
        return _adapter_check(info), base not in (str, bool, int, float)
    if base is str:
        min_length = max((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), default=0)
        return (check_id if min_length >= 1 else check_text), False
    if base is bool:
        return check_flag, False
    if base is int:
        low, high = _bounds(metadata)
        return _int_check(low, high), False
    if base is float:
        low, high = _bounds(metadata)
        return (check_number if low is None and high is None else _number_check(low, high)), False
    if base is datetime:
        return check_timestamp, False
    if get_origin(base) in (dict, Dict) and get_args(base) == (str, Any):
        return check_object, True
    return _adapter_check(info), True


def check_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RequestValidationError(name, f"must be a str, got {type(value).__name__}")
    if has_control_chars(value):
        raise RequestValidationError(name, "must not contain control characters such as CR or LF")
    return value


def check_id(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RequestValidationError(name, f"must be a str, got {type(value).__name__}")
    if not value:
        raise RequestValidationError(name, "must not be empty")
    if has_control_chars(value):
        raise RequestValidationError(name, "must not contain control characters such as CR or LF")
    return value


def check_number(name: str, value: Any) -> Union[int, float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestValidationError(name, f"must be a number, got {type(value).__name__}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400): no service reads it
        finite = False
    if not finite:
        raise RequestValidationError(name, f"must be a finite number, got {shown(value)}")
    return value


def _range_text(low: Optional[float], high: Optional[float]) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _number_check(low: Optional[float], high: Optional[float]) -> Check:
    def check(name: str, value: Any) -> Union[int, float]:
        check_number(name, value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise RequestValidationError(name, f"must be {_range_text(low, high)}, got {shown(value)}")
        return cast(Union[int, float], value)

    return check


def _int_check(low: Optional[float], high: Optional[float]) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestValidationError(name, f"must be an int, got {type(value).__name__}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise RequestValidationError(name, f"must be {_range_text(low, high)}, got {shown(value)}")
        return value

    return check


_parse_timestamp: Optional[Callable[[str], datetime]] = None


def _timestamp_parser() -> Callable[[str], datetime]:
    """pydantic's parser, which reads every ISO 8601 form on every Python version (built once)."""
    global _parse_timestamp
    if _parse_timestamp is None:
        with _compile_lock:
            if _parse_timestamp is None:
                _parse_timestamp = pydantic.TypeAdapter(datetime).validate_strings
    return _parse_timestamp


def check_timestamp(name: str, value: Any) -> str:
    """A `datetime` (sent as its ISO 8601 text) or ISO 8601 text (sent as given)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        raise RequestValidationError(
            name, f"must be a datetime or an ISO 8601 str, got {type(value).__name__}"
        )
    parse = _parse_timestamp
    if parse is None:
        parse = _timestamp_parser()
    try:
        parse(value)
    except pydantic.ValidationError:
        raise RequestValidationError(name, f"must be an ISO 8601 date-time, got {value!r}") from None
    return value


def check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RequestValidationError(name, f"must be a bool, got {type(value).__name__}")
    return value


MAX_NESTING = 200
"""How many levels a free-form JSON argument (`properties`) may nest. Python's json module stops at a depth
that differs between versions (near 1,000 on 3.11, none on 3.13), so without a limit of its own the same
call would be refused on one version and sent on another; pydantic's JSON parser, which reads the answers,
stops near 200."""


def check_object(name: str, value: Any) -> Dict[str, Any]:
    """A dict with str keys, nesting at most `MAX_NESTING` levels; any other mapping with str keys is
    sent as a dict of it."""
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) for key in cast("Mapping[object, object]", value)
    ):
        raise RequestValidationError(name, "must be a dict with str keys")
    if _nests_deeper(cast("Mapping[str, Any]", value), MAX_NESTING):
        raise RequestValidationError(
            name,
            f"must be JSON-serializable: nested more than {MAX_NESTING} levels deep (or refers to itself)",
        )
    if isinstance(value, dict):
        return cast(Dict[str, Any], value)
    return dict(cast("Mapping[str, Any]", value))


def _nests_deeper(value: Mapping[str, Any], limit: int) -> bool:
    """True when dicts and lists nest more than `limit` levels below `value` (itself the first); a value
    that contains itself does too. Iterative: no recursion limit of the interpreter is met."""
    pending: List[Tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = (
            cast("Mapping[object, object]", item).values()
            if isinstance(item, Mapping)
            else cast("Iterable[object]", item)
        )
        for child in children:
            if _is_container(child):
                if depth >= limit:
                    return True
                pending.append((child, depth + 1))
    return False


def _is_container(value: object) -> bool:
    """A value JSON encodes as an object or an array."""
    return isinstance(value, (dict, list, tuple))


def _adapter_check(info: Any) -> Check:
    """A check by pydantic for any other annotation: the value is validated, then sent as its JSON form."""
    from typing_extensions import Annotated

    annotation = info.annotation
    if info.metadata:
        # Subscripted with a tuple built at run time (Python 3.13 has no `Annotated.__class_getitem__`).
        annotation = cast(Any, Annotated)[tuple((annotation, *info.metadata))]
    return AdapterCheck(annotation)


class AdapterCheck:
    """The `Check` of `_adapter_check`. Its pydantic adapter is built at the first value it checks: most
    calls leave such a parameter (`lock`) out, and building it compiles the schema of its model."""

    __slots__ = ("_adapter", "_annotation")

    def __init__(self, annotation: Any) -> None:
        self._annotation = annotation
        self._adapter: Optional[pydantic.TypeAdapter[Any]] = None

    def adapter(self) -> pydantic.TypeAdapter[Any]:
        """The adapter, built once."""
        if self._adapter is None:
            with _compile_lock:
                if self._adapter is None:
                    self._adapter = pydantic.TypeAdapter(self._annotation)
        return self._adapter

    def __call__(self, name: str, value: Any) -> Any:
        adapter = self._adapter
        if adapter is None:
            adapter = self.adapter()
        try:
            return adapter.dump_python(adapter.validate_python(value), mode="json", by_alias=True)
        except pydantic_core.PydanticSerializationError as exc:
            raise _unserializable(name, exc) from None
        except pydantic.ValidationError as exc:
            (first, *_) = exc.errors(include_url=False, include_input=False)
            loc = first["loc"]
            if isinstance(value, Mapping) and loc and isinstance(loc[0], int):
                # a mapping the model turned into a list (Commet's property pairs): name the key
                keys = list(cast("Mapping[object, object]", value))
                if loc[0] < len(keys):
                    raise _named_key(name, keys[loc[0]], first["msg"]) from None
            where = ".".join(str(part) for part in loc)
            problem = _problem(first["msg"])
            raise RequestValidationError(name, f"{where + ': ' if where else ''}{problem}") from None


def _items_check(model: type[pydantic.BaseModel], min_items: int, max_items: int) -> Check:
    """The check of an array body: a sequence of `min_items` to `max_items` models (or dicts of their
    fields), each validated by the model (fields left unset stay absent).

    The items are dumped as Python values, for the JSON encoder that sends them (`Preparer`) to refuse
    what has no exact JSON form, as it does for one event's `track`: pydantic's JSON mode would send a
    NaN or infinite `value` as null (which the service reads as the default amount) and turn sets and
    datetimes in `properties` into lists and strings."""
    from typing_extensions import Annotated

    generic: Any = List
    constrained = pydantic.Field(min_length=min_items, max_length=max_items)
    items: Any = cast(Any, Annotated)[generic[model], constrained]
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(items)

    def check(name: str, value: Any) -> Any:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise RequestValidationError(
                name, f"must be a sequence, got {type(cast(object, value)).__name__}"
            )
        given = list(cast("Sequence[object]", value))
        try:
            return adapter.dump_python(adapter.validate_python(given), by_alias=True)
        except pydantic_core.PydanticSerializationError as exc:
            raise _unserializable(name, exc) from None
        except pydantic.ValidationError as exc:
            (first, *_) = exc.errors(include_url=False, include_input=False)
            where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
            problem = _problem(first["msg"])
            error = RequestValidationError(name, problem)
            error.message = f"{name}{where}: {problem}"
            error.args = (error.message,)
            raise error from None

    return check


def _unserializable(name: str, exc: pydantic_core.PydanticSerializationError) -> RequestValidationError:
    """A value that passed the model but has no JSON form: a free-form field (`properties`) holding an
    object JSON cannot carry, or nested past pydantic's serializer's limit."""
    reason = str(exc)
    if reason.startswith("Error calling function `"):  # raised in a model's own serializer: its words
        reason = reason.partition("`: ")[2]
        kind, colon, words = reason.partition(": ")
        reason = words if colon and kind.isidentifier() else reason
    return RequestValidationError(name, f"must be JSON-serializable: {reason or 'no JSON form'}")


def _problem(message: str) -> str:
    """Pydantic's message without the prefix it puts before a validator's own words."""
    return message[len("Value error, ") :] if message.startswith("Value error, ") else message


def _named_key(name: str, key: object, problem: str) -> RequestValidationError:
    """The error of one entry of a mapping argument: `param` is the argument, the message names the key."""
    error = RequestValidationError(name, problem)
    error.message = f"{name}[{key!r}]: {problem}"
    error.args = (error.message,)
    return error
