"""The `meterly` command: every operation of the registry from a shell (`meterly <resource> <method>`,
its options from the request model), and the local sandbox.

Exit codes: 0 allowed (or, for an operation that is not a check, done), 1 denied, 2 error (bad arguments,
no key, API or connection error). Results go to stdout as JSON (a table with `--pretty`); errors go to
stderr with the API's code and request id.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
from datetime import datetime
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple, Union, cast, get_args, get_origin

from meterly import errors
from meterly._client_options import OPTIONS
from meterly._config import API_KEY_ENV
from meterly._declaration import Operation
from meterly._registry import resources
from meterly._version import __version__
from meterly.sdk import Meterly
from meterly.types import UNSET

__all__ = ["main"]

EXIT_ALLOWED = 0
EXIT_DENIED = 1
EXIT_ERROR = 2

PROG = "meterly"

# The examples use the ids of the sandbox's demo data, so they run as shown against `meterly sandbox serve`.
_TRY_IT = """\
try it against the local sandbox (its demo data):
  meterly sandbox serve
  export METERLY_SERVER_URL=http://127.0.0.1:8787 METERLY_API_KEY=sk_test_sandbox
"""
_MAIN_EXAMPLES = (
    _TRY_IT
    + """\
  meterly balances check --customer-id cus_pro --feature-id messages      # exit 0
  meterly balances check --customer-id cus_free --feature-id sso          # exit 1
  meterly usage check --customer-id cus_pro --feature-code api_calls      # exit 0

demo customers: cus_free, cus_pro, cus_team (seats seat_alice, seat_bob), cus_wallet
"""
)
_MORE_EXAMPLES = {
    "balances.check": """\
  meterly balances check --customer-id cus_pro --feature-id messages --send-event
  meterly balances check --customer-id cus_team --feature-id messages --entity-id seat_bob
  meterly balances check --customer-id cus_free --feature-id messages --required-balance 3  # denied
""",
    "usage.check": """\
  meterly usage check --customer-id cus_pro --feature-code image --quantity 2
  meterly usage check --customer-id cus_wallet --feature-code sms --quantity 30   # denied
""",
    "balances.track": """\
  meterly balances track --customer-id cus_pro --event-name chat_message
  meterly balances track --customer-id cus_pro --feature-id messages --value -1   # gives one back
""",
    "balances.finalize": """\
  meterly balances check --customer-id cus_pro --feature-id messages --required-balance 3 \\
      --lock '{"lock_id": "lock_gen_42"}'
  meterly balances finalize --lock-id lock_gen_42 --action confirm --override-value 2
""",
}
"""More examples for a command's help, by SDK call, after the one made from its request fields' examples."""


class _UsageError(Exception):
    """A command line that can't be run; argparse's own errors are turned into this too."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so `main()` returns its code."""

    def error(self, message: str) -> Any:  # the base class is typed NoReturn
        raise _UsageError(f"{self.prog}: {message}")


def _json_object(text: str) -> Dict[str, Any]:
    try:
        value: Any = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. \'{"source": "cli"}\'')
    return cast(Dict[str, Any], value)


def _json_array(text: str) -> List[Any]:
    try:
        value: Any = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError('must be a JSON array, e.g. \'[{"customer_id": "cus_pro"}]\'')
    return cast(List[object], value)


def _connection_options() -> _Parser:
    """Options every call takes, accepted before or after the subcommand."""
    common = _Parser(add_help=False)
    group = common.add_argument_group("connection and output")
    for option in OPTIONS:  # the client options that have a flag, with their docstring line as help
        if option.cli:
            kind = int if option.annotation in ("int", "Optional[int]") else str
            group.add_argument(option.cli, type=kind, default=argparse.SUPPRESS, help=_help(option.doc))
    group.add_argument(
        "--no-retries",
        action="store_true",
        default=argparse.SUPPRESS,
        help="fail on the first error instead of retrying",
    )
    group.add_argument(
        "--pretty", action="store_true", default=argparse.SUPPRESS, help="a readable table, not JSON"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: `balances check`, `usage check`, `sandbox serve`."""
    common = _connection_options()
    parser = _Parser(
        prog=PROG,
        description="Meterly from the shell. Exit codes: 0 allowed, 1 denied, 2 error.",
        parents=[common],
        epilog=_MAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    grouped = resources()
    names = ",".join([*grouped, "sandbox"])
    groups = parser.add_subparsers(dest="group", metavar=f"{{{names}}}", parser_class=_Parser)
    groups.required = True
    for resource, operations in grouped.items():
        commands = groups.add_parser(resource, help=f"{resource} operations").add_subparsers(dest="command")
        commands.required = True
        for op in operations:
            _add_operation(commands, op, common)

    sandbox = groups.add_parser("sandbox", help="the local sandbox server").add_subparsers(dest="command")
    sandbox.required = True
    serve = sandbox.add_parser(
        "serve",
        help="serve the Meterly API locally with seeded customers",
        description="Serve the Meterly API on 127.0.0.1 (port 8787) with the demo data "
        "(customers cus_free, cus_pro, cus_team, cus_wallet; key sk_test_sandbox) or a seed file.",
    )
    serve.add_argument("--port", type=_port, help="the port to listen on (0: any free port)")
    serve.add_argument("--seed", metavar="FILE", help="a JSON file of customers and balances")
    faults = serve.add_argument_group("faults (passed to python -m meterly.sandbox)")
    for flag, settings in _SANDBOX_FAULTS.items():
        faults.add_argument(flag, default=None, **settings)
    serve.set_defaults(run=_sandbox_serve)
    return parser


_SANDBOX_FAULTS: Dict[str, Dict[str, Any]] = {
    "--latency-ms": {"type": float, "metavar": "MS", "help": "delay added to every answer"},
    "--error-rate": {
        "type": float,
        "metavar": "SHARE",
        "help": "share of requests (0..1) answered --error-status",
    },
    "--outage": {"action": "store_true", "help": "answer every request --error-status"},
    "--error-status": {
        "type": int,
        "choices": (429, 500, 502, 503, 504),
        "help": "the status of those failures (default 503); 429 is each service's rate limit, with a "
        "Retry-After",
    },
    "--retry-after": {"type": float, "metavar": "SECONDS", "help": "the Retry-After of a 429 (default 1)"},
    "--degraded": {
        "action": "store_true",
        "help": "Autumn's own fail-open: balances.check answers 202, allowed, without reading or recording",
    },
}
"""The sandbox's fault options that `meterly sandbox serve` passes through, as `python -m meterly.sandbox`
takes them (its parser is not imported to build this one: a check never loads the sandbox)."""


def _body_arguments(op: Operation[Any]) -> Dict[str, Tuple[Any, List[Any]]]:
    """The SDK arguments of an operation's body, with their annotation and examples: the request fields,
    or for a JSON-array body its one argument (given as JSON)."""
    if op.array_body is not None:
        return {op.array_body.name: (list, [])}
    return {
        name: (field.annotation, field.examples or [])
        for name, field in op.request_model.model_fields.items()
    }


def _option_type(annotation: Any) -> Dict[str, Any]:
    """argparse settings for a request field's annotation (None removed)."""
    if get_origin(annotation) is Union:
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = rest[0] if len(rest) == 1 else str  # e.g. datetime | str: given as text
    if get_origin(annotation) is Literal:
        return {"choices": [str(arg) for arg in get_args(annotation)]}
    if annotation is list:
        return {"type": _json_array, "metavar": "JSON"}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if annotation in (int, float):
        return {"type": annotation}
    if annotation in (str, datetime):  # a date-time is given as its ISO 8601 text
        return {}
    return {"type": _json_object, "metavar": "JSON"}


def _flag(name: str) -> str:
    return "--" + name.rstrip("_").replace("_", "-")  # `async_` is `--async`


def _example_line(op: Operation[Any]) -> str:
    """A command line made from the request fields' examples (the ids of the sandbox's demo data)."""
    parts = [PROG, op.resource, op.method_name]
    if op.array_body is not None:
        item = {
            name: field.examples[0] for name, field in op.request_model.model_fields.items() if field.examples
        }
        parts += [_flag(op.array_body.name), f"'{json.dumps([item])}'"]
    for name, (_, examples) in _body_arguments(op).items():
        if examples:
            parts += [_flag(name), str(examples[0])]
    return "  " + " ".join(parts) + "\n"


def _add_operation(commands: Any, op: Operation[Any], common: _Parser) -> None:
    """`meterly <resource> <method>`: one option per body parameter, named after the SDK argument."""
    method: Callable[..., Any] = getattr(_resource_classes()[op.resource], op.method_name)
    doc = (method.__doc__ or "").strip().split("\n", 1)[0]
    sdk_call = f"{op.resource}.{op.method_name}"
    command = commands.add_parser(
        op.method_name,
        parents=[common],
        help=f"{doc} ({op.method} {op.path})",
        description=f"{doc} ({op.method} {op.path})",
        epilog=_TRY_IT + _example_line(op) + _MORE_EXAMPLES.get(sdk_call, ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults: Dict[str, Any] = method.__kwdefaults__ or {}
    described = _argument_docs(method.__doc__ or "")
    for name, (annotation, examples) in _body_arguments(op).items():
        settings = {**_option_type(annotation), "dest": name}
        text = described.get(name, "")
        shown = [text] if text else []
        if examples and "action" not in settings and "e.g." not in text:
            shown.append(f"e.g. {examples[0]}")
        if defaults.get(name) is not None and "default" not in text:
            shown.append(f"default {defaults[name]}")
        if shown:
            settings["help"] = "; ".join(shown)
        if name in defaults:
            command.add_argument(_flag(name), default=defaults[name], **settings)
        else:
            command.add_argument(_flag(name), required=True, **settings)
    command.set_defaults(run=_operation_runner(op))


def _argument_docs(doc: str) -> Dict[str, str]:
    """The `Args:` section of a resource method's docstring, as {argument: its description in one line}."""
    described: Dict[str, str] = {}
    lines = iter(inspect.cleandoc(doc).splitlines())
    for line in lines:
        if line.strip() == "Args:":
            break
    name = None
    for line in lines:
        if not line.strip() or not line.startswith(" "):
            break  # the end of the section
        entry = line.strip()
        head, colon, text = entry.partition(": ")
        if line.startswith("    ") and not line.startswith("     ") and colon and head.isidentifier():
            name = head
            described[name] = text
        elif name is not None:  # a continuation line
            described[name] += " " + entry
    return {key: text.rstrip(".") for key, text in described.items()}


def _resource_classes() -> Dict[str, type]:
    """The resource classes of `Meterly` by attribute (`balances`: `Balances`), from its annotations."""
    import typing

    return typing.get_type_hints(Meterly)


def _operation_runner(op: Operation[Any]) -> Callable[[argparse.Namespace], Tuple[bool, Dict[str, Any]]]:
    def run(ns: argparse.Namespace) -> Tuple[bool, Dict[str, Any]]:
        arguments = {name: getattr(ns, name) for name in _body_arguments(op)}
        with _client(ns) as client:
            res = getattr(getattr(client, op.resource), op.method_name)(**arguments)
        allowed = True if op.allowed is None else op.allowed(res)
        return allowed, res.model_dump(mode="json", by_alias=True)

    return run


def _client(ns: argparse.Namespace) -> Meterly:
    api_key = getattr(ns, "api_key", None) or os.environ.get(API_KEY_ENV) or None
    if api_key is None:
        raise _UsageError(f"{PROG}: no API key: pass --api-key or set {API_KEY_ENV}")
    flags: Dict[str, Any] = {option.name: getattr(ns, option.name, None) for option in OPTIONS if option.cli}
    flags["api_key"] = api_key
    return Meterly(**flags, retry_config=None if getattr(ns, "no_retries", False) else UNSET)


def _help(doc: str) -> str:
    """A docstring line as argparse help: lower-case start, no final period, `%` escaped."""
    return (doc[:1].lower() + doc[1:]).rstrip(".").replace("%", "%%")


def _port(text: str) -> int:
    """A TCP port number, for argparse (which reports the error as a usage error)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {port}")
    return port


def _sandbox_serve(ns: argparse.Namespace) -> int:
    try:  # imported only here: the sandbox is never loaded by a balance or usage check
        module = importlib.import_module("meterly.sandbox.__main__")
    except ImportError as exc:
        raise _UsageError(f"{PROG}: the sandbox is not available in this installation ({exc})") from None
    sandbox_main: Callable[[List[str]], int] = module.main
    argv: List[str] = []
    if ns.port is not None:
        argv += ["--port", str(ns.port)]
    if ns.seed is not None:
        argv += ["--seed", ns.seed]
    for flag in _SANDBOX_FAULTS:
        value = getattr(ns, flag[2:].replace("-", "_"))
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    try:
        return sandbox_main(argv)
    except OSError as exc:  # the port is taken, or not ours to bind
        where = f"port {ns.port}" if ns.port is not None else "the default port"
        raise _UsageError(f"{PROG}: cannot serve on {where}: {exc.strerror or exc}") from None


def _flatten(value: Any, prefix: str, rows: List[Tuple[str, str]]) -> None:
    if isinstance(value, dict) and value:
        for key, item in cast(Dict[str, Any], value).items():
            _flatten(item, f"{prefix}.{key}" if prefix else key, rows)
    elif isinstance(value, list) and value:
        for index, item in enumerate(cast(List[object], value)):
            _flatten(item, f"{prefix}[{index}]", rows)
    else:
        rows.append((prefix, value if isinstance(value, str) else json.dumps(value)))


def format_table(data: Dict[str, Any]) -> str:
    """Two aligned columns, one row per field; nested fields get dotted names (`balance.remaining`)."""
    rows: List[Tuple[str, str]] = []
    _flatten(data, "", rows)
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def _describe(exc: errors.MeterlyError) -> str:
    details = [f"{type(exc).__name__}: {exc.message}"]
    if exc.status_code is not None:
        details.append(f"status={exc.status_code}")
    if isinstance(exc, errors.APIError) and exc.code:
        details.append(f"code={exc.code}")
    if exc.request_id:
        details.append(f"request_id={exc.request_id}")
    return " ".join(details)


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command line (default: `sys.argv[1:]`); returns the exit code: 0 allowed, 1 denied, 2 error."""
    try:
        ns = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        if ns.run is _sandbox_serve:
            code: int = _sandbox_serve(ns)
            return code
        allowed, data = ns.run(ns)
    except _UsageError as exc:
        print(f"{exc}\n(run `{PROG} --help` for usage)", file=sys.stderr)
        return EXIT_ERROR
    except SystemExit as exc:  # --help and --version have printed what was asked
        return exc.code if isinstance(exc.code, int) else EXIT_ALLOWED if exc.code is None else EXIT_ERROR
    except errors.MeterlyError as exc:
        print(f"{PROG}: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_ERROR
    print(format_table(data) if getattr(ns, "pretty", False) else json.dumps(data, indent=2))
    return EXIT_ALLOWED if allowed else EXIT_DENIED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
