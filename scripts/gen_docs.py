"""Renders docs/models/*.md, docs/sdks/*/README.md, src/meterly/models/__init__.py and .speakeasy/gen.lock
from the models, the registry of operations and openapi.yaml; `render_all` adds the code of
`scripts/gen_code.py`. `make gen` (scripts/gen.py) writes them all."""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union, get_args, get_origin

import pydantic
import yaml
from typing_extensions import is_typeddict

from meterly import errors
from meterly._declaration import Operation
from meterly._registry import resources
from meterly._responses import _ERRORS_BY_STATUS
from meterly._version import __version__
from meterly.sdk import Meterly
from meterly.types import Unset
from scripts.gen_code import formatted, render_code
from scripts.modelinfo import (
    FieldInfo,
    TypeInfo,
    class_description,
    enum_aliases,
    enum_description,
    model_classes,
    model_fields,
    type_info,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path("docs/models")
GEN_LOCK = Path(".speakeasy/gen.lock")
MODELS_INIT = Path("src/meterly/models/__init__.py")

_PRIMITIVE_NAMES = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool",
    "any": "Any",
    "datetime": "datetime",
}


# ---------------------------------------------------------------- types and tables


def _page(name: str) -> str:
    return f"{name.lower()}.md"


def _named(kind: TypeInfo) -> Optional[str]:
    """The `models.X` name of a model or named enum, else None."""
    if kind.kind == "model":
        return kind.model
    if kind.kind == "enum" and kind.alias:
        return kind.alias
    return None


def render_type(kind: TypeInfo, wrapper: str, prefix: str) -> str:
    """A Type cell in Speakeasy's notation: `*Optional[str]*`, `[Nullable[models.X]](../models/x.md)`."""
    wrap = wrapper if wrapper in ("Nullable", "OptionalNullable", "Optional") else ""
    if wrapper == "default":
        wrap = "Optional"
    name = _named(kind)
    if name is not None:
        inner = f"{wrap}[models.{name}]" if wrap else f"models.{name}"
        return f"[{inner}]({prefix}{_page(name)})"
    if kind.kind in ("array", "object") and kind.item is not None:
        item = render_type(kind.item, "required", prefix)
        return f"List[{item}]" if kind.kind == "array" else f"Dict[str, {item}]"
    if kind.kind == "enum":
        base = "Literal[" + ", ".join(json.dumps(value) for value in kind.enum or ()) + "]"
    else:
        base = _PRIMITIVE_NAMES[kind.kind]
    return f"*{wrap}[{base}]*" if wrap else f"*{base}*"


def render_example(value: Any) -> str:
    """An Example cell: the JSON one line per row, as Speakeasy prints it."""
    lines = json.dumps(value, indent=2).split("\n")
    return "<br/>".join(line.strip() for line in lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(header: List[str], rows: List[List[str]]) -> str:
    """A Markdown table whose columns all share the width of the widest cell, like Speakeasy's pages."""
    width = max(len(cell) for row in [header, *rows] for cell in row)
    lines = ["| " + " | ".join(cell.ljust(width) for cell in header) + " |"]
    lines.append("| " + " | ".join("-" * width for _ in header) + " |")
    lines.extend("| " + " | ".join(cell.ljust(width) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def _required_mark(required: bool) -> str:
    return ":heavy_check_mark:" if required else ":heavy_minus_sign:"


# ---------------------------------------------------------------- model and enum pages


def render_model_page(model: type[pydantic.BaseModel]) -> str:
    """docs/models/<model>.md: title, description and the Fields table."""
    fields = model_fields(model)
    with_examples = any(field.examples for field in fields)
    header = ["Field", "Type", "Required", "Description"] + (["Example"] if with_examples else [])
    rows = []
    for field in fields:
        row = [
            f"`{field.name}`",
            render_type(field.type, field.wrapper, "../models/"),
            _required_mark(field.required),
            _cell(_field_description(field)),
        ]
        if with_examples:
            row.append(render_example(field.examples[0]) if field.examples else "")
        rows.append(row)
    description = class_description(model)
    intro = f"# {model.__name__}\n\n{description}\n\n" if description else f"# {model.__name__}\n\n"
    extra = ""
    if model.model_config.get("extra") == "allow" and not model.__name__.endswith(("Request", "Security")):
        extra = (
            "\n\nFields the service adds later are kept, not dropped: read them from `model_extra`; "
            "`model_dump(by_alias=True)` gives back the keys that were received.\n"
        )
    return f"{intro}\n## Fields\n\n{render_table(header, rows)}{extra or chr(10)}"


def _field_description(field: FieldInfo) -> str:
    text = field.description or "N/A"
    if field.key != field.name:
        text += f" JSON name: `{field.key}`."
    if field.wrapper == "default":
        text += f" Default: `{field.default!r}`."
    return text


def render_enum_page(name: str, alias: Any) -> str:
    """docs/models/<enum>.md: the known values of an open enum."""
    kind = type_info(alias)
    rows = [[f"`{value}`"] for value in kind.enum or ()]
    description = enum_description(name)
    return (
        f"# {name}\n\n{description}\n\n\n## Values\n\n{render_table(['Value'], rows)}\n\n"
        "This is an open enum: a value not listed here is kept as a plain `str` "
        "(`meterly.types.UnrecognizedStr`) instead of failing validation, so a new value on the server "
        "never breaks parsing.\n"
    )


# ---------------------------------------------------------------- resource pages


@dataclass(frozen=True)
class Resource:
    """A resource page: its attribute on the client, its class and its operations from the registry."""

    attribute: str
    title: str
    cls: type
    operations: Tuple[Operation[Any], ...]


def all_resources() -> List[Resource]:
    """One page per resource of the registry, its class read from `Meterly`'s annotations."""
    classes = typing.get_type_hints(Meterly)
    return [
        Resource(name, name.title(), classes[name], operations) for name, operations in resources().items()
    ]


def render_usage_example(operation: Operation[Any]) -> str:
    """The example of an operation: a call with the request fields that have examples (for an array
    body, one item of them)."""
    examples = {
        name: field.examples[0]
        for name, field in operation.request_model.model_fields.items()
        if field.examples
    }
    if operation.array_body is not None:
        arguments = f"{operation.array_body.name}=[{json.dumps(examples)}]"
    else:
        arguments = ", ".join(f"{name}={value!r}".replace("'", '"') for name, value in examples.items())
    setup = "".join(f"    {line}\n" for line in operation.example_setup.splitlines())
    return f"""\
from meterly import Meterly

with Meterly() as client:  # the key comes from METERLY_API_KEY
{setup}    res = client.{operation.resource}.{operation.method_name}({arguments})

    print(res)
"""


CALL_OPTIONS: Dict[str, Tuple[str, str]] = {
    "idempotency_key": (
        "*Optional[str]*",
        "Sent as `Idempotency-Key`; the same on every retry of this call. Default: a fresh UUID4 per call.",
    ),
    "retries": (
        "[Optional[utils.RetryConfig]](../../../README.md#retries)",
        "Overrides the client's retry policy for this call; `None` never retries.",
    ),
    "server_url": ("*Optional[str]*", "Overrides the client's server for this call."),
    "timeout_ms": ("*Optional[int]*", "Overrides the per-attempt timeout for this call, in milliseconds."),
    "http_headers": ("*Optional[Mapping[str, str]]*", "Headers to add or replace for this call."),
}
"""The parameters every operation takes besides its body; their docs live here, in one place."""

SCHEME_HEADERS = {"bearerAuth": "`Authorization: Bearer <key>`", "apiKeyAuth": "`x-api-key: <key>`"}


def _signature_type(annotation: Any, has_default: bool) -> str:
    base, has_none = annotation, False
    if get_origin(annotation) is Union:
        args = get_args(annotation)
        has_none = type(None) in args
        # a model's TypedDict is the same fields as a dict: the model names them both
        rest = [arg for arg in args if arg is not type(None) and arg is not Unset and not is_typeddict(arg)]
        base = rest[0] if len(rest) == 1 else Union[tuple(rest)]
    wrapper = "Optional" if (has_none or has_default) else "required"
    return render_type(type_info(base), wrapper, "../../models/")


def render_operation(resource: Resource, operation: Operation[Any], spec: Dict[str, Any]) -> str:
    """One operation's section: description, example, parameters, response and errors."""
    method_name = operation.method_name
    spec_operation = spec["paths"][operation.path][operation.method.lower()]
    method: Callable[..., Any] = getattr(resource.cls, method_name)
    hints = typing.get_type_hints(method)
    returned = hints.pop("return")
    request_fields = {field.name: field for field in model_fields(operation.request_model)}

    rows = []
    for name, parameter in inspect.signature(method).parameters.items():
        if name == "self":
            continue
        has_default = parameter.default is not inspect.Parameter.empty
        if operation.array_body is not None and name == operation.array_body.name:
            item = operation.request_model.__name__
            array = operation.array_body
            type_cell = f"List[[models.{item}](../../models/{_page(item)})]"
            description = (
                f"{operation.arg_docs.get(name, 'N/A')} From {array.min_items} to {array.max_items:,}."
            )
        elif name in request_fields:
            field = request_fields[name]
            description = field.description or "N/A"
            if has_default and parameter.default is not None:
                description += f" Default: `{parameter.default!r}`."
            type_cell = _signature_type(hints[name], has_default)
        elif name in CALL_OPTIONS:
            type_cell, description = CALL_OPTIONS[name]
        else:
            raise LookupError(f"{resource.title}.{method_name}: no documentation for parameter {name!r}")
        rows.append([f"`{name}`", type_cell, _required_mark(not has_default), _cell(description)])

    (requirement,) = spec_operation["security"]
    (scheme,) = requirement
    successes = sorted(status for status in spec_operation["responses"] if status.startswith("2"))
    first = spec_operation["responses"][successes[0]]
    ok = first["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    response = f"**[models.{returned.__name__}](../../models/{_page(returned.__name__)})**"
    if ok != returned.__name__:
        response += f"\n\nThe `data` of the [models.{ok}](../../models/{_page(ok)}) envelope."
    if successes == ["202"]:
        response += "\n\nAnswered `202`: " + " ".join(first["description"].split())
    elif "202" in successes:
        response += "\n\nA `202`, with the same body: " + " ".join(
            spec_operation["responses"]["202"]["description"].split()
        )
    version = next(
        (param for param in spec_operation.get("parameters", []) if "Version" in param.get("$ref", "")), None
    )
    if version is not None:
        header = spec["components"]["parameters"][version["$ref"].rsplit("/", 1)[-1]]
        response += (
            f"\n\nEvery request sends `{header['name']}: {header['schema']['default']}` unless the client "
            f'sets `api_versions={{"{resource.attribute}": ...}}`.'
        )

    error_rows = []
    for status in sorted(set(spec_operation["responses"]) - set(successes)):
        cls = errors.InternalServerError if status == "5XX" else _ERRORS_BY_STATUS[int(status)]
        error_rows.append([f"errors.{cls.__name__}", status, "application/json"])
    error_rows.append(["errors.APIError", "4XX", "\\*/\\*"])

    integrity = _integrity_note(operation)
    return f"""## {method_name}

{" ".join(spec_operation["description"].split())}

`{operation.method} {operation.path}` (operation `{operation.operation_id}`), authenticated with \
{SCHEME_HEADERS[scheme]}.

### Example Usage

```python
{render_usage_example(operation).rstrip()}
```

### Parameters

{render_table(["Parameter", "Type", "Required", "Description"], rows)}

### Response

{response}

### Errors

{render_table(["Error Type", "Status Code", "Content Type"], error_rows)}

Without a response: `errors.APIConnectionError` (refused, reset, DNS) and its subclass
`errors.APITimeoutError`, after retries. Before any I/O: `errors.RequestValidationError` for a bad
argument. A 2xx body that does not fit the model: `errors.ResponseValidationError`.{integrity} Every
one is a `errors.MeterlyError`.
"""


def _integrity_note(operation: Operation[Any]) -> str:
    """What the errors section says about answers for other requests and lost writes, read from the
    operation's declaration (`echoes`, `writes`, `dedup`)."""
    note = ""
    if operation.echoes:
        echoed = ", ".join(f"`{param}`" for param, _ in operation.echoes)
        retried = "a read is asked again, a write raises" if operation.writes is not True else "raises"
        note += f" An answer echoing another request's {echoed}: {retried} `errors.ResponseMismatchError`."
    if operation.writes and operation.dedup == "none":
        switch = f" with `{operation.writes}`" if isinstance(operation.writes, str) else ""
        note += (
            f" A write{switch} that may have reached the service while its answer was lost (a timeout"
            " after sending, a reset, a 5xx) is never resent: `errors.WriteOutcomeUnknownError`."
        )
    elif operation.writes and operation.dedup == "header":
        note += " Its retries send the same `Idempotency-Key`, which the service deduplicates."
    return note


def render_resource_page(resource: Resource, spec: Dict[str, Any]) -> str:
    """docs/sdks/<resource>/README.md."""
    module_doc = inspect.getmodule(resource.cls).__doc__ or ""  # type: ignore[union-attr]
    overview = " ".join(module_doc.split()).split(": ", 1)[-1]
    index = "\n".join(
        f"* [{op.method_name}](#{op.method_name}) - {spec['paths'][op.path][op.method.lower()]['summary']}"
        for op in resource.operations
    )
    sections = "\n".join(render_operation(resource, op, spec) for op in resource.operations)
    return f"""# {resource.title}
(*{resource.attribute}*)

## Overview

{overview[:1].upper() + overview[1:]} The async client (`AsyncMeterly`) has the same methods; await them.

### Available Operations

{index}

{sections}"""


# ---------------------------------------------------------------- all pages and the lock file


def _checksum(path: Path) -> str:
    return hashlib.md5((ROOT / path).read_bytes()).hexdigest()


def render_pages() -> Dict[Path, str]:
    """Every generated page by its path relative to the repository root (gen.lock excluded)."""
    with (ROOT / "openapi.yaml").open(encoding="utf-8") as file:
        spec = yaml.safe_load(file)
    pages: Dict[Path, str] = {}
    for model in model_classes():
        pages[MODELS_DIR / _page(model.__name__)] = render_model_page(model)
    for name, alias in enum_aliases().items():
        pages[MODELS_DIR / _page(name)] = render_enum_page(name, alias)
    for resource in all_resources():
        pages[Path("docs/sdks") / resource.attribute / "README.md"] = render_resource_page(resource, spec)
    return pages


def exported_models() -> Dict[str, str]:
    """Each public name of `meterly.models` (classes and enum aliases, CamelCase, defined at the top of a
    model module) by the module defining it: a new model module is exported by `make docs`."""
    names: Dict[str, str] = {}
    for path in sorted((ROOT / MODELS_INIT).parent.glob("*.py")):
        if path.name.startswith("_"):
            continue
        for stmt in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(stmt, ast.ClassDef):
                found = [stmt.name]
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                found = [t.id for t in targets if isinstance(t, ast.Name)]
            else:
                continue
            for name in found:
                if name[:1].isupper() and not name.isupper():
                    names[name] = path.stem
    return dict(sorted(names.items()))


def render_models_init() -> str:
    """src/meterly/models/__init__.py: every model, imported lazily on first access."""
    exported = exported_models()
    by_module: Dict[str, List[str]] = {}
    for name, module in exported.items():
        by_module.setdefault(module, []).append(name)
    imports = "\n".join(
        f"    from .{module} import {', '.join(names)}" for module, names in sorted(by_module.items())
    )
    listed = "\n".join(f'    "{name}",' for name in exported)
    modules = "\n".join(f'    "{name}": "{module}",' for name, module in exported.items())
    return f'''"""Every request and response model of the Meterly API, one module each.

A model's module is imported on first access (`models.CheckResponse`), so `import meterly` builds none.
Written by `make gen` (scripts/gen.py) from the model modules: a new module is exported by it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
{imports}

__all__ = [
{listed}
]

_MODULES = {{
{modules}
}}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    value = getattr(importlib.import_module(f"{{__name__}}.{{module}}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
'''


def render_lock(pages: Dict[Path, str]) -> str:
    """.speakeasy/gen.lock: what the docs were generated from, so a changed input shows as stale."""
    with (ROOT / "openapi.yaml").open(encoding="utf-8") as file:
        spec = yaml.safe_load(file)
    lock = {
        "lockVersion": "2.0.0",
        "id": "3f0c6a52-4d1e-4b8f-9a57-6d2b1c0e7a11",
        "management": {
            "docChecksum": _checksum(Path("openapi.yaml")),
            "docVersion": spec["info"]["version"],
            "releaseVersion": __version__,
            "configChecksum": _checksum(Path(".speakeasy/gen.yaml")),
            "generator": "scripts/gen.py (`make gen`): the SDK is not written by Speakeasy",
        },
        "generatedFiles": sorted(str(path) for path in pages),
    }
    header = "# Written by `make gen` (scripts/gen.py); do not edit.\n"
    return header + yaml.safe_dump(lock, sort_keys=False)


def export_models(init: Optional[str] = None) -> None:
    """Runs a freshly rendered `meterly.models` in place of the one imported, so the code and the pages
    see a model module added since (before `make gen` has written its export), in --check mode too."""
    from meterly import models

    init = render_models_init() if init is None else init
    exec(compile(init, str(ROOT / MODELS_INIT), "exec"), vars(models))


def render_all() -> Dict[Path, str]:
    """Every generated file by its path relative to the repository root: the code first (its modules
    are what the pages describe), then the pages."""
    code = render_code()
    init = render_models_init()
    export_models(init)
    pages = {**code, **render_pages(), MODELS_INIT: formatted(init, MODELS_INIT)}
    return {**pages, GEN_LOCK: render_lock(pages)}


def stale_files(rendered: Dict[Path, str]) -> List[str]:
    """Generated files that differ from what is on disk, and pages on disk nobody generates."""
    stale = [
        str(path)
        for path, text in rendered.items()
        if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text
    ]
    on_disk = {path.relative_to(ROOT) for path in (ROOT / MODELS_DIR).glob("*.md")}
    stale.extend(f"{path} (no model)" for path in sorted(on_disk - set(rendered)))
    return sorted(stale)
