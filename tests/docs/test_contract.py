"""openapi.yaml and the code describe the same service: models, operations, security, retries, servers."""

from __future__ import annotations

import copy
import inspect
import typing
from typing import Any, Dict

import pytest
from scripts.modelinfo import model_classes, model_fields

from meterly import SERVERS, Meterly, models
from meterly._declaration import Operation, SecurityScheme, body_params
from meterly._options import CallOptions
from meterly._registry import BY_ID, OPERATIONS, resources
from meterly._responses import _ERRORS_BY_STATUS
from meterly.types import UNSET, OptionalNullable
from meterly.utils.retries import DEFAULT_RETRY_CONFIG, RETRYABLE_STATUS_CODES
from tests.docs.contract import load_openapi, schema_drift, spec_type

SPEC = load_openapi()
SCHEMAS: Dict[str, Any] = SPEC["components"]["schemas"]
ERROR_SHAPES = {"FlatError", "EnvelopedError"}
"""Schemas of error bodies: the SDK reads them into `errors.APIError` fields, not into a model."""
NOT_SCHEMAS = {"Security", "Queued", "FlushResult"}
"""Models that are not bodies: `Security` holds the keys of the security schemes; `Queued` and
`FlushResult` are what the usage outbox answers in the process, never on the wire."""
SCHEMA_MODELS = [cls for cls in model_classes() if cls.__name__ not in NOT_SCHEMAS]

RESOURCE_CLASSES = typing.get_type_hints(Meterly)
OPERATION_METHODS = [(op, getattr(RESOURCE_CLASSES[op.resource], op.method_name)) for op in OPERATIONS]


SUCCESSES = {
    "balancesCheck": {"200", "202"},  # 202: the service's own degraded fail-open
    "balancesTrack": {"200", "202"},  # 202: queued with `async`
    "balancesTrackTokens": {"200", "202"},
    "balancesBatchTrack": {"202"},  # always queued
}
"""The success statuses of the operations that have more or other than 200."""


def _ref_name(schema: Dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _resolve(obj: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in obj:
        node: Any = SPEC
        for part in str(obj["$ref"]).lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def _operation(path: str) -> Dict[str, Any]:
    operation: Dict[str, Any] = SPEC["paths"][path]["post"]
    return operation


def test_the_registry_declares_every_operation_of_openapi_and_no_other() -> None:
    in_spec = {
        (method.upper(), path, spec_op["operationId"])
        for path, item in SPEC["paths"].items()
        for method, spec_op in item.items()
    }
    assert {(op.method, op.path, op.operation_id) for op in OPERATIONS} == in_spec


def test_every_model_has_a_schema_and_every_schema_a_model() -> None:
    model_names = {cls.__name__ for cls in SCHEMA_MODELS}
    assert model_names == set(SCHEMAS) - ERROR_SHAPES
    assert "PreviewProduct" in model_names


@pytest.mark.parametrize("model", SCHEMA_MODELS, ids=lambda cls: cls.__name__)
def test_model_matches_its_schema(model: type[models.Balance]) -> None:
    assert schema_drift(model, SCHEMAS[model.__name__]) == []


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_property_is_described(name: str) -> None:
    undocumented = [
        key for key, prop in SCHEMAS[name].get("properties", {}).items() if not prop.get("description")
    ]
    assert undocumented == []


def _balance_schema() -> Dict[str, Any]:
    return copy.deepcopy(SCHEMAS["Balance"])


def test_drift_in_required_is_reported() -> None:
    schema = _balance_schema()
    schema["required"].remove("granted")
    assert schema_drift(models.Balance, schema) == [
        "Balance.granted: required is True in the model (required), False in openapi.yaml"
    ]


def test_drift_in_nullable_is_reported() -> None:
    schema = _balance_schema()
    schema["properties"]["max_purchase"]["type"] = "number"
    assert schema_drift(models.Balance, schema) == [
        "Balance.max_purchase: nullable is True in the model (Nullable), False in openapi.yaml"
    ]


def test_drift_in_type_is_reported() -> None:
    schema = _balance_schema()
    schema["properties"]["usage"]["type"] = "integer"
    assert schema_drift(models.Balance, schema) == [
        "Balance.usage: type is number in the model, integer in openapi.yaml"
    ]


def test_drift_in_property_names_is_reported() -> None:
    schema = _balance_schema()
    schema["properties"]["featureId"] = schema["properties"].pop("feature_id")
    schema["required"] = ["featureId" if key == "feature_id" else key for key in schema["required"]]
    assert schema_drift(models.Balance, schema) == [
        "Balance.featureId: in openapi.yaml, missing from the model",
        "Balance.feature_id: in the model, missing from openapi.yaml",
    ]


def test_drift_in_enum_values_is_reported() -> None:
    schema = copy.deepcopy(SCHEMAS["Reset"])
    schema["properties"]["interval"]["anyOf"][0]["enum"].append("decade")
    (problem,) = schema_drift(models.Reset, schema)
    assert problem.startswith("Reset.interval: type is open enum ['one_off'")
    assert "'decade']" in problem


def test_a_closed_enum_in_the_schema_is_drift_from_an_open_enum_in_the_model() -> None:
    schema = copy.deepcopy(SCHEMAS["Price"])
    schema["properties"]["billing_method"] = schema["properties"]["billing_method"]["anyOf"][0]
    schema["properties"]["billing_method"]["description"] = "Prepaid or usage-based billing."
    assert schema_drift(models.Price, schema) == [
        "Price.billing_method: type is open enum ['prepaid', 'usage_based'] in the model, "
        "closed enum ['prepaid', 'usage_based'] in openapi.yaml"
    ]


def test_drift_in_the_model_annotations_is_reported() -> None:
    class Balance(models.Balance):
        """A Balance whose `granted` became OptionalNullable."""

        granted: OptionalNullable[float] = UNSET  # type: ignore[assignment]
        """The total amount of usage included in the customer's plan(s) for this feature."""

    assert schema_drift(Balance, SCHEMAS["Balance"]) == [
        "Balance.granted: nullable is True in the model (OptionalNullable), False in openapi.yaml",
        "Balance.granted: required is False in the model (OptionalNullable), True in openapi.yaml",
    ]


def test_the_vocabulary_maps_to_required_and_nullable() -> None:
    fields = {field.name: field for field in model_fields(models.CheckResponse)}
    assert (fields["allowed"].required, fields["allowed"].nullable) == (True, False)
    assert (fields["balance"].required, fields["balance"].nullable) == (True, True)
    assert (fields["entity_id"].required, fields["entity_id"].nullable) == (False, True)
    assert (fields["required_balance"].required, fields["required_balance"].nullable) == (False, False)


def test_spec_patterns_read_as_nullable_types() -> None:
    assert spec_type({"type": ["number", "null"]}) == (True, spec_type({"type": "number"})[1])
    nullable, kind = spec_type({"oneOf": [{"$ref": "#/components/schemas/Reset"}, {"type": "null"}]})
    assert nullable
    assert kind.model == "Reset"


@pytest.mark.parametrize(
    ("operation", "method"), OPERATION_METHODS, ids=lambda value: getattr(value, "operation_id", "")
)
def test_operation_matches_openapi(operation: Any, method: Any) -> None:
    spec_operation = _operation(operation.path)
    assert spec_operation["operationId"] == operation.operation_id
    assert operation.method == "POST"

    body_schema = spec_operation["requestBody"]["content"]["application/json"]["schema"]
    assert spec_operation["requestBody"]["required"] is True
    if operation.array_body is not None:  # a JSON array of the request model
        array = operation.array_body
        assert (body_schema["type"], body_schema["minItems"], body_schema["maxItems"]) == (
            "array",
            array.min_items,
            array.max_items,
        )
        body_schema = body_schema["items"]
    assert _ref_name(body_schema) == operation.request_model.__name__
    body = _resolve(body_schema)
    if operation.array_body is not None:
        assert [(param.name, param.required, param.nested) for param in operation.params] == [
            (operation.array_body.name, True, True)
        ]
        params = body_params(operation.request_model)
    else:
        params = operation.params
    assert {param.key for param in params} == set(body["properties"])
    assert {param.key for param in params if param.required} == set(body.get("required", []))
    # A container-typed parameter must say so: the pipeline encodes all-scalar bodies on a faster path.
    containers = {
        key
        for key, schema in body["properties"].items()
        if _resolve(schema).get("type") in ("object", "array", ["object", "null"], ["array", "null"])
    }
    assert {param.key for param in params if param.nested} == containers

    returned = typing.get_type_hints(method)["return"]
    assert returned is operation.response_model
    (first, *_) = sorted(SUCCESSES.get(operation.operation_id, {"200"}))
    ok = spec_operation["responses"][first]["content"]["application/json"]["schema"]
    if operation.envelope is None:
        assert _ref_name(ok) == returned.__name__
    else:  # an envelope whose `data` is the result
        assert _ref_name(ok) == operation.envelope().__name__
        assert _ref_name(_resolve(ok)["properties"]["data"]) == returned.__name__


@pytest.mark.parametrize(
    ("operation", "method"), OPERATION_METHODS, ids=lambda value: getattr(value, "operation_id", "")
)
def test_the_resource_method_takes_the_request_fields_and_the_call_options(
    operation: Operation[Any], method: Any
) -> None:
    taken = {name for name in inspect.signature(method).parameters if name != "self"}
    if operation.array_body is not None:
        assert taken == {operation.array_body.name} | CallOptions.NAMES
    else:
        assert taken == set(operation.request_model.model_fields) | CallOptions.NAMES


@pytest.mark.parametrize(
    ("operation", "method"), OPERATION_METHODS, ids=lambda value: getattr(value, "operation_id", "")
)
def test_every_mapped_error_status_is_documented(operation: Any, method: Any) -> None:
    responses = _operation(operation.path)["responses"]
    successes = SUCCESSES.get(operation.operation_id, {"200"})
    assert set(responses) == successes | {"5XX"} | {str(status) for status in _ERRORS_BY_STATUS}
    for status in set(responses) - successes:
        content = _resolve(responses[status])["content"]["application/json"]["schema"]
        assert _ref_name(content) in ERROR_SHAPES


@pytest.mark.parametrize(
    ("operation", "method"), OPERATION_METHODS, ids=lambda value: getattr(value, "operation_id", "")
)
def test_every_operation_takes_an_idempotency_key_and_its_version_header(operation: Any, method: Any) -> None:
    parameters = [_resolve(param) for param in _operation(operation.path)["parameters"]]
    header, default = operation.version_header
    assert [(param["name"].lower(), param["in"]) for param in parameters] == [
        ("idempotency-key", "header"),
        (header, "header"),
    ]
    assert parameters[1]["schema"]["default"] == default


@pytest.mark.parametrize(
    ("operation", "method"), OPERATION_METHODS, ids=lambda value: getattr(value, "operation_id", "")
)
def test_the_resource_of_an_operation_is_the_client_attribute_it_lives_on(
    operation: Any, method: Any
) -> None:
    assert operation.resource in resources()
    resource_class = typing.get_type_hints(Meterly)[operation.resource]
    assert method.__qualname__.split(".")[0] == resource_class.__name__


def test_the_version_pins_are_the_documented_ones() -> None:
    assert BY_ID["balancesCheck"].version_header == ("x-api-version", "2.1")
    assert BY_ID["usageCheck"].version_header == ("commet-version", "2026-08-27")


def test_a_202_answers_in_the_same_shape_as_a_200() -> None:
    responses = _operation(BY_ID["balancesCheck"].path)["responses"]
    assert responses["202"]["content"] == responses["200"]["content"]


def _scheme_name(scheme: SecurityScheme) -> str:
    head, *rest = scheme.attribute.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.parametrize(
    ("operation", "method"), OPERATION_METHODS, ids=lambda value: getattr(value, "operation_id", "")
)
def test_operation_security_matches_the_scheme_the_sdk_sends(operation: Any, method: Any) -> None:
    (requirement,) = _operation(operation.path)["security"]
    assert list(requirement) == [_scheme_name(operation.security)]
    scheme = SPEC["components"]["securitySchemes"][_scheme_name(operation.security)]
    if scheme["type"] == "http":
        assert (scheme["scheme"], operation.security.header, operation.security.prefix) == (
            "bearer",
            "authorization",
            "Bearer ",
        )
    else:
        assert (scheme["type"], scheme["in"], scheme["name"].lower()) == (
            "apiKey",
            "header",
            operation.security.header,
        )


def test_security_model_has_one_field_per_scheme() -> None:
    schemes = set(SPEC["components"]["securitySchemes"])
    attributes = {field.name for field in model_fields(models.Security)}
    assert {_scheme_name(SecurityScheme(attribute, "", "")) for attribute in attributes} == schemes


def test_servers_match_the_sdk() -> None:
    assert [server["url"] for server in SPEC["servers"]] == SERVERS


def test_retry_extension_matches_the_default_policy() -> None:
    retries = SPEC["x-speakeasy-retries"]
    backoff = DEFAULT_RETRY_CONFIG.backoff
    assert retries["strategy"] == DEFAULT_RETRY_CONFIG.strategy
    assert retries["backoff"] == {
        "initialInterval": backoff.initial_interval,
        "maxInterval": backoff.max_interval,
        "exponent": backoff.exponent,
        "maxElapsedTime": backoff.max_elapsed_time,
    }
    assert set(retries["statusCodes"]) == set(RETRYABLE_STATUS_CODES)
    assert retries["retryConnectionErrors"] is DEFAULT_RETRY_CONFIG.retry_connection_errors
