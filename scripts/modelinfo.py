"""What each model says about itself (JSON names, optionality, nullability, types, docs), read from its
annotations, field info and attribute docstrings; shared by the docs generator and the contract test."""

from __future__ import annotations

import ast
import collections.abc
import datetime
import inspect
import itertools
import sys
import textwrap
import types
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Dict, List, Literal, Optional, Tuple, Union, get_args, get_origin

import pydantic

from meterly import models
from meterly.types import UNSET, UnrecognizedStr, Unset

Wrapper = Literal["required", "Nullable", "OptionalNullable", "Optional", "default"]

_PRIMITIVES: Dict[Any, str] = {
    str: "string",
    float: "number",
    int: "integer",
    bool: "boolean",
    Any: "any",
    datetime.datetime: "datetime",
}


@dataclass(frozen=True)
class TypeInfo:
    """A field's type without its optionality: a primitive, a list, a dict, a model or an enum."""

    kind: str  # string | number | integer | boolean | any | datetime | array | object | model | enum
    item: Optional[TypeInfo] = None  # element of an array, value of an object (dict)
    model: Optional[str] = None  # the model's class name, for kind == "model"
    enum: Optional[Tuple[str, ...]] = None  # the known values, for kind == "enum"
    open: bool = False  # an open enum also accepts unknown strings (UnrecognizedStr)
    alias: Optional[str] = field(default=None, compare=False)  # the enum's name in meterly.models

    def describe(self) -> str:
        """A short readable form, for drift messages."""
        if self.kind == "array":
            return f"array of {self.item.describe() if self.item else '?'}"
        if self.kind == "object":
            return f"object of {self.item.describe() if self.item else '?'}"
        if self.kind == "model":
            return f"model {self.model}"
        if self.kind == "enum":
            return f"{'open' if self.open else 'closed'} enum {list(self.enum or ())}"
        return self.kind


@dataclass(frozen=True)
class FieldInfo:
    """One field of a model in the vocabulary of the docs and of openapi.yaml."""

    name: str  # the Python attribute
    key: str  # the JSON name (alias if any)
    wrapper: Wrapper
    type: TypeInfo
    description: str
    examples: Tuple[Any, ...] = ()
    default: Any = None

    @property
    def required(self) -> bool:
        """In the schema's `required` list."""
        return self.wrapper in ("required", "Nullable")

    @property
    def nullable(self) -> bool:
        """May be null in JSON."""
        return self.wrapper in ("Nullable", "OptionalNullable")


def model_classes() -> List[type[pydantic.BaseModel]]:
    """Every model exported by `meterly.models`, in name order."""
    exported = [getattr(models, name) for name in models.__all__]  # models load on first access
    found = [
        value
        for value in exported
        if isinstance(value, type)
        and issubclass(value, pydantic.BaseModel)
        and value.__module__.startswith("meterly.models")
    ]
    return sorted(set(found), key=lambda cls: cls.__name__)


def enum_aliases() -> Dict[str, Any]:
    """The enum type aliases exported by `meterly.models` (e.g. `ResetInterval`), by name."""
    return {
        name: value
        for name, value in sorted((name, getattr(models, name)) for name in models.__all__)
        if get_origin(value) is Union and UnrecognizedStr in get_args(value)
    }


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def type_info(tp: Any) -> TypeInfo:
    """The TypeInfo of an annotation that has no None or UNSET in it."""
    if tp in _PRIMITIVES:
        return TypeInfo(_PRIMITIVES[tp])
    origin = get_origin(tp)
    if origin is Literal:
        return TypeInfo("enum", enum=tuple(str(arg) for arg in get_args(tp)))
    if _is_union(tp):
        args = get_args(tp)
        if type(None) in args:  # a nullable item (of a dict or list): the item's type
            return type_info(_split_optionality(tp)[0])
        literals = [arg for arg in args if get_origin(arg) is Literal]
        if set(args) in ({datetime.datetime, str}, {datetime.datetime, int}):
            return TypeInfo("datetime")  # an argument taking a datetime, or its ISO 8601 text or Unix ms
        if UnrecognizedStr in args and len(literals) == 1 and len(args) == 2:
            alias = next((name for name, value in enum_aliases().items() if value == tp), None)
            values = tuple(str(arg) for arg in get_args(literals[0]))
            return TypeInfo("enum", enum=values, open=True, alias=alias)
        raise TypeError(f"unsupported union {tp!r}")
    if origin in (list, List):
        return TypeInfo("array", item=type_info(get_args(tp)[0]))
    if origin in (dict, Dict, collections.abc.Mapping):
        key, value = get_args(tp)
        if key is not str:
            raise TypeError(f"dict keys must be str: {tp!r}")
        return TypeInfo("object", item=type_info(value))
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return TypeInfo("model", model=tp.__name__)
    raise TypeError(f"unsupported annotation {tp!r}")


def _split_optionality(annotation: Any) -> Tuple[Any, bool, bool]:
    """(the annotation without None and Unset, had None, had Unset)."""
    if not _is_union(annotation):
        return annotation, False, False
    args = get_args(annotation)
    has_none = type(None) in args
    has_unset = Unset in args
    rest = tuple(arg for arg in args if arg is not type(None) and arg is not Unset)
    if len(rest) == 1:
        return rest[0], has_none, has_unset
    return Union[rest], has_none, has_unset


def field_info(model: type[pydantic.BaseModel], name: str) -> FieldInfo:
    """The FieldInfo of `model.<name>`, derived from its annotation and default."""
    info = model.model_fields[name]
    base, has_none, has_unset = _split_optionality(info.annotation)
    default = None
    if info.is_required():
        wrapper: Wrapper = "Nullable" if has_none else "required"
        if has_unset:
            raise TypeError(f"{model.__name__}.{name}: UNSET in a required field")
    elif info.default is UNSET:
        if not (has_none and has_unset):
            raise TypeError(f"{model.__name__}.{name}: default UNSET needs OptionalNullable[...]")
        wrapper = "OptionalNullable"
    elif info.default is None:
        if not has_none or has_unset:
            raise TypeError(f"{model.__name__}.{name}: default None needs Optional[...]")
        wrapper = "Optional"
    else:
        wrapper = "default"
        default = info.default
    description = info.description or attribute_docstrings(model).get(name, "")
    return FieldInfo(
        name=name,
        key=info.alias or name,
        wrapper=wrapper,
        type=type_info(base),
        description=description,
        examples=tuple(info.examples or ()),
        default=default,
    )


def model_fields(model: type[pydantic.BaseModel]) -> List[FieldInfo]:
    """Every field of `model`, in declaration order."""
    return [field_info(model, name) for name in model.model_fields]


def _clean(doc: str) -> str:
    return " ".join(inspect.cleandoc(doc).split())


@cache
def attribute_docstrings(cls: type) -> Dict[str, str]:
    """The docstrings written under each annotated attribute of `cls` (and of its model bases)."""
    docs: Dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if base.__module__.startswith("meterly") and base is not cls:
            docs.update(attribute_docstrings(base))
    if not cls.__module__.startswith("meterly"):
        return docs
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs.update(_docstrings_after_assignments(body))
    return docs


@cache
def module_docstrings(module_name: str) -> Dict[str, str]:
    """The docstrings written under each module-level assignment (e.g. enum aliases)."""
    tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    return _docstrings_after_assignments(tree.body)


def _docstrings_after_assignments(body: List[ast.stmt]) -> Dict[str, str]:
    docs: Dict[str, str] = {}
    for stmt, following in itertools.pairwise(body):
        target: Optional[ast.expr] = None
        if isinstance(stmt, ast.AnnAssign):
            target = stmt.target
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
        if (
            isinstance(target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[target.id] = _clean(following.value.value)
    return docs


def class_description(cls: type) -> str:
    """The class docstring on one line."""
    return _clean(cls.__doc__ or "")


def enum_description(name: str) -> str:
    """The docstring under the enum alias `name`, from the module that defines it."""
    for module_name, module in sorted(sys.modules.items()):
        if module_name.startswith("meterly.models.") and name in vars(module):
            doc = module_docstrings(module_name).get(name)
            if doc:
                return doc
    return ""
