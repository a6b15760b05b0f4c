"""Comparing a model class with its schema in openapi.yaml, in the vocabulary of both."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import pydantic
import yaml
from scripts.modelinfo import FieldInfo, TypeInfo, model_fields

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = ROOT / "openapi.yaml"

_PRIMITIVE_KINDS = {"string", "number", "integer", "boolean"}
_NULL = {"type": "null"}


def load_openapi() -> Dict[str, Any]:
    """The parsed openapi.yaml."""
    with OPENAPI_PATH.open(encoding="utf-8") as file:
        spec: Dict[str, Any] = yaml.safe_load(file)
    return spec


def _without_docs(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {
        key: value
        for key, value in schema.items()
        if key not in ("description", "example", "examples", "title", "default", "minLength", "maxLength")
        and key not in ("minimum", "maximum")
    }


def spec_type(schema: Dict[str, Any]) -> Tuple[bool, TypeInfo]:
    """(nullable, type) of a property schema, reading the patterns openapi.yaml uses."""
    schema = _without_docs(schema)
    if "$ref" in schema:
        return False, TypeInfo("model", model=schema["$ref"].rsplit("/", 1)[-1])
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            options = [_without_docs(option) for option in schema[combinator]]
            nullable = _NULL in options
            rest = [option for option in options if option != _NULL]
            if len(rest) == 1:
                inner_nullable, inner = spec_type(rest[0])
                return nullable or inner_nullable, inner
            enums = [option for option in rest if option.get("type") == "string" and "enum" in option]
            if combinator == "anyOf" and len(rest) == 2 and len(enums) == 1 and {"type": "string"} in rest:
                return nullable, TypeInfo("enum", enum=tuple(enums[0]["enum"]), open=True)
            raise ValueError(f"unsupported {combinator}: {schema[combinator]!r}")
    if not schema:
        return False, TypeInfo("any")
    kind = schema.get("type")
    nullable = False
    if isinstance(kind, list):
        nullable = "null" in kind
        others = [item for item in kind if item != "null"]
        if len(others) != 1:
            raise ValueError(f"unsupported type list {kind!r}")
        kind = others[0]
    if "const" in schema:  # one allowed value: a Literal of it in the model
        return nullable, TypeInfo("enum", enum=(str(schema["const"]),))
    if "enum" in schema:
        return nullable, TypeInfo(
            "enum", enum=tuple(str(value) for value in schema["enum"] if value is not None)
        )
    if kind == "string" and schema.get("format") == "date-time":
        return nullable, TypeInfo("datetime")
    if kind in _PRIMITIVE_KINDS:
        return nullable, TypeInfo(kind)
    if kind == "array":
        return nullable, TypeInfo("array", item=spec_type(schema.get("items", {}))[1])
    if kind == "object":
        if schema.get("properties"):
            raise ValueError("inline object schemas are not used; give them a component")
        extra = schema.get("additionalProperties", True)
        return nullable, TypeInfo("object", item=TypeInfo("any") if extra is True else spec_type(extra)[1])
    raise ValueError(f"unsupported schema {schema!r}")


def _model_side(field: FieldInfo) -> str:
    return (
        f"{'required' if field.required else 'optional'}, "
        f"{'nullable' if field.nullable else 'not nullable'}, {field.type.describe()}"
    )


def schema_drift(model: type[pydantic.BaseModel], schema: Dict[str, Any]) -> List[str]:
    """Every difference between `model` and its component `schema`; empty when they agree."""
    name = model.__name__
    problems: List[str] = []
    fields = {field.key: field for field in model_fields(model)}
    properties: Dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    if schema.get("type") != "object":
        problems.append(f"{name}: schema type is {schema.get('type')!r}, not 'object'")
    for key in fields.keys() - properties.keys():
        problems.append(f"{name}.{key}: in the model, missing from openapi.yaml")
    for key in properties.keys() - fields.keys():
        problems.append(f"{name}.{key}: in openapi.yaml, missing from the model")
    for key in sorted(required - properties.keys()):
        problems.append(f"{name}.{key}: listed in required but not a property")
    for key in fields.keys() & properties.keys():
        field = fields[key]
        spec_nullable, spec_kind = spec_type(properties[key])
        where = f"{name}.{key}"
        if field.required != (key in required):
            problems.append(
                f"{where}: required is {field.required} in the model ({field.wrapper}), "
                f"{key in required} in openapi.yaml"
            )
        if field.nullable != spec_nullable:
            problems.append(
                f"{where}: nullable is {field.nullable} in the model ({field.wrapper}), "
                f"{spec_nullable} in openapi.yaml"
            )
        if field.type != spec_kind:
            problems.append(
                f"{where}: type is {field.type.describe()} in the model, "
                f"{spec_kind.describe()} in openapi.yaml"
            )
        spec_default = properties[key].get("default")
        if field.wrapper == "default" and field.default != spec_default:
            problems.append(
                f"{where}: default is {field.default!r} in the model, {spec_default!r} in openapi.yaml"
            )
        spec_description = properties[key].get("description")
        if spec_description is not None and " ".join(spec_description.split()) != field.description:
            problems.append(f"{where}: description differs from the model's docstring ({_model_side(field)})")
    return sorted(problems)
