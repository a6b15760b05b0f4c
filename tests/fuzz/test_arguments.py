"""Property-based (hypothesis): whatever a caller passes, anywhere, only a result or a typed error
comes out, and a bad value is a `RequestValidationError` naming the argument or field it was given to.

Covered from their declarations, so an argument added later is fuzzed without touching this file:
every body parameter and per-call option of every operation in the registry (`OPERATIONS`), every
keyword of the `Meterly` and `AsyncMeterly` constructors, and every field of `models.Security`,
`FailOpenPolicy`, `RetryConfig` and `BackoffStrategy`. Calls go to the in-process sandbox
(`SandboxTransport`): no socket is opened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import inspect
import logging
import math
from typing import Any, Callable, Optional

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, errors, models
from meterly._declaration import Operation
from meterly._options import CallOptions
from meterly._registry import OPERATIONS
from meterly.sandbox import COMMET_API_KEY, DEFAULT_API_KEY, SandboxTransport
from meterly.types import UNSET
from meterly.utils import BackoffStrategy, RetryConfig
from meterly.utils.retries import retry_delay

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SECURITY = models.Security(bearer_auth=DEFAULT_API_KEY, api_key_auth=COMMET_API_KEY)
TRANSPORT = SandboxTransport()
REFUSED = "http://127.0.0.1:9"  # the discard port: nothing listens there, so a stray call fails at once


def deeply_nested(depth: int) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for _ in range(depth):
        nested = {"a": nested}
    return nested


class Opaque:
    """An object no argument accepts, with a repr that would flood an error message."""

    def __repr__(self) -> str:
        return "opaque" * 10_000


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 1, 2**53, 2**63, 10**400, -(10**400)]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
    st.text(max_size=12),
    st.sampled_from(["", " ", "\r\n", "x\x00y", "\ud800", "é", "a" * 100_000, "http://", "https://a.b/"]),
    st.binary(max_size=8),
    st.datetimes(),
    st.sampled_from([datetime.date(2026, 1, 1), Opaque(), object(), UNSET, logging.getLogger("x")]),
)
arbitrary = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children),
        st.frozensets(st.integers(), max_size=2),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers(), st.none()), children, max_size=3),
    ),
    max_leaves=8,
) | st.builds(deeply_nested, st.sampled_from([50, 5_000]))


def names_the(error: errors.RequestValidationError, changed: set[str], qualifier: str = "") -> bool:
    """Whether the error's `param` is one of `changed` (`properties`, `server_urls['x']`,
    `FailOpenPolicy.features['f']`...)."""
    param = error.param
    if qualifier:
        if not param.startswith(qualifier + "."):
            return False
        param = param[len(qualifier) + 1 :]
    root = param.split("[")[0].split(".")[0]
    return root in changed


def outcome(call: Callable[[], Any]) -> Any:
    """What `call()` returned or raised; a MeterlyError is returned, anything else fails the test."""
    try:
        return call()
    except errors.MeterlyError as error:
        return error


# -- operations --------------------------------------------------------------------------------------


def arguments_of(op: Operation[Any]) -> list[str]:
    """Every argument a resource method takes: the operation's body parameters and the call options."""
    return [param.name for param in op.params] + sorted(CallOptions.NAMES)


def valid_arguments(op: Operation[Any]) -> dict[str, Any]:
    """The required body parameters, each at its model's example (the demo data's ids)."""
    fields = op.request_model.model_fields
    if op.array_body is not None:  # one event made of the item model's examples
        item = {name: info.examples[0] for name, info in fields.items() if info.examples}
        return {op.array_body.name: [item]}
    valid: dict[str, Any] = {}
    for param in op.params:
        if param.required:
            examples = fields[param.name].examples
            valid[param.name] = examples[0] if examples else "x"
    if op.exactly_one_of:  # e.g. track's feature_id, when it takes one of it and event_name
        (first, *_) = op.exactly_one_of
        valid[first] = (fields[first].examples or ["x"])[0]
    return valid


def method_of(sdk: Any, op: Operation[Any]) -> Any:
    return getattr(getattr(sdk, op.resource), op.method_name)


def test_every_argument_of_every_operation_is_a_keyword_of_its_methods() -> None:
    sync = Meterly(security=SECURITY, client=httpx.Client(transport=TRANSPORT))
    async_ = AsyncMeterly(security=SECURITY, client=httpx.AsyncClient(transport=TRANSPORT))
    for op in OPERATIONS:
        for sdk in (sync, async_):
            parameters = inspect.signature(method_of(sdk, op)).parameters
            assert set(arguments_of(op)) <= set(parameters), op.operation_id


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
@pytest.mark.parametrize("engine", ["sync", "async"])
@SETTINGS
@given(data=st.data())
def test_any_arguments_give_a_result_or_a_typed_error_naming_the_argument(
    op: Operation[Any], engine: str, data: st.DataObject
) -> None:
    names = arguments_of(op)
    changed = data.draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True), label="changed"
    )
    kwargs = valid_arguments(op)
    for name in changed:
        kwargs[name] = data.draw(arbitrary, label=name)
    if engine == "sync":
        sdk = Meterly(security=SECURITY, client=httpx.Client(transport=TRANSPORT), retry_config=None)
        result = outcome(lambda: method_of(sdk, op)(**kwargs))
    else:

        async def run() -> Any:
            client = httpx.AsyncClient(transport=TRANSPORT)
            sdk = AsyncMeterly(security=SECURITY, client=client, retry_config=None)
            try:
                return await method_of(sdk, op)(**kwargs)
            except errors.MeterlyError as error:
                return error
            finally:
                await client.aclose()

        result = asyncio.run(run())
    if isinstance(result, errors.RequestValidationError):
        assert names_the(result, set(changed)), (result.param, changed)
        assert len(str(result)) <= errors.MAX_MESSAGE_CHARS
    elif isinstance(result, errors.MeterlyError):
        assert len(str(result)) <= errors.MAX_MESSAGE_CHARS + 2 * errors.MAX_DETAIL_CHARS + 200
    else:
        assert isinstance(result, op.response_model)


# -- constructors ------------------------------------------------------------------------------------

CONSTRUCTORS = {"Meterly": Meterly, "AsyncMeterly": AsyncMeterly}


def constructor_options(cls: type) -> list[str]:
    return [name for name in inspect.signature(cls).parameters if name != "self"]


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
@SETTINGS
@given(data=st.data())
def test_any_constructor_option_gives_a_client_or_a_typed_error_naming_it(
    name: str, data: st.DataObject
) -> None:
    cls = CONSTRUCTORS[name]
    options = constructor_options(cls)
    changed = set(
        data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True), label="changed")
    )
    may_name: set[str] = changed | (
        {"client"} if "http_backend" in changed else set[str]()
    )  # a client of the other engine
    kwargs: dict[str, Any] = {"security": SECURITY, "server_url": REFUSED}
    for option in sorted(changed):
        kwargs[option] = data.draw(arbitrary, label=option)
    through_sandbox = "client" not in changed  # else no call: it would go through whatever was passed
    check = OPERATIONS[0]
    arguments = valid_arguments(check)

    client: Any
    result: Any = None
    if cls is Meterly:
        if through_sandbox:
            kwargs["client"] = httpx.Client(transport=TRANSPORT)
        client = outcome(lambda: Meterly(**kwargs))
        if through_sandbox and isinstance(client, Meterly):
            result = outcome(lambda: method_of(client, check)(**arguments))
    else:

        async def run() -> tuple[Any, Any]:  # AsyncMeterly may open a pool: inside a running loop
            if through_sandbox:
                kwargs["client"] = httpx.AsyncClient(transport=TRANSPORT)
            client = outcome(lambda: AsyncMeterly(**kwargs))
            if not (through_sandbox and isinstance(client, AsyncMeterly)):
                return client, None
            try:
                return client, await method_of(client, check)(**arguments)
            except errors.MeterlyError as error:
                return client, error

        client, result = asyncio.run(run())
    if isinstance(client, errors.RequestValidationError):
        assert names_the(client, may_name), (client.param, changed)
        return
    assert isinstance(client, cls), client
    if isinstance(result, errors.RequestValidationError):
        assert names_the(result, changed | {"api_key"}), (result.param, changed)


# -- configuration objects ---------------------------------------------------------------------------


def fields_of(cls: type) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [field.name for field in dataclasses.fields(cls)]
    return list(cls.model_fields)  # type: ignore[attr-defined]


CONFIGURATIONS: dict[str, type] = {
    "Security": models.Security,
    "FailOpenPolicy": FailOpenPolicy,
    "RetryConfig": RetryConfig,
    "BackoffStrategy": BackoffStrategy,
}


def built(cls: type, data: st.DataObject) -> tuple[Any, set[str]]:
    """An instance of `cls` with one to three fields drawn at random, or the error building it raised."""
    changed = data.draw(st.lists(st.sampled_from(fields_of(cls)), min_size=1, max_size=3, unique=True))
    kwargs = {field: data.draw(arbitrary, label=f"{cls.__name__}.{field}") for field in changed}
    return outcome(lambda: cls(**kwargs)), set(changed)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
@SETTINGS
@given(data=st.data())
def test_any_configuration_field_gives_an_object_or_a_typed_error_naming_it(
    name: str, data: st.DataObject
) -> None:
    cls = CONFIGURATIONS[name]
    made, changed = built(cls, data)
    if isinstance(made, errors.RequestValidationError):
        assert isinstance(made, ValueError)
        assert names_the(made, changed, qualifier=name), (made.param, changed)
        assert len(str(made)) <= errors.MAX_MESSAGE_CHARS
        return
    assert isinstance(made, cls), made
    if isinstance(made, (RetryConfig, BackoffStrategy)):
        config = made if isinstance(made, RetryConfig) else RetryConfig(backoff=made)
        for attempt in (1, 2, 10, 100, 1_000):  # the pure retry decision never raises
            delay: Optional[float] = retry_delay(config, attempt, 0.0, retryable=True, requested=None)
            assert delay is None or (math.isfinite(delay) and delay >= 0)
    elif isinstance(made, FailOpenPolicy):
        unavailable = httpx.MockTransport(lambda request: httpx.Response(503, json={"message": "down"}))
        sdk = Meterly(
            api_key="sk", client=httpx.Client(transport=unavailable), retry_config=None, fail_open=made
        )
        result = outcome(lambda: sdk.balances.check(customer_id="c", feature_id="f"))
        assert isinstance(result, (models.CheckResponse, errors.InternalServerError))
    else:
        sdk = Meterly(security=made, client=httpx.Client(transport=TRANSPORT), retry_config=None)
        result = outcome(lambda: sdk.balances.check(customer_id="cus_pro", feature_id="messages"))
        if isinstance(result, errors.RequestValidationError):
            assert result.param == "api_key"  # a key that can't go in a header, or none at all
