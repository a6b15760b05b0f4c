"""The `meterly` command: balance and usage checks from a shell, and the local sandbox.

Exit codes: 0 allowed, 1 denied, 2 error (bad arguments, no key, API or connection error). Results go to
stdout as JSON (a table with `--pretty`); errors go to stderr with the API's code and request id.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from meterly import errors
from meterly._config import API_KEY_ENV, SERVER_URL_ENV
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
_BALANCES_EXAMPLES = (
    _TRY_IT
    + """\
  meterly balances check --customer-id cus_pro --feature-id messages --send-event
  meterly balances check --customer-id cus_team --feature-id messages --entity-id seat_bob
  meterly balances check --customer-id cus_free --feature-id messages --required-balance 3  # denied
"""
)
_USAGE_EXAMPLES = (
    _TRY_IT
    + """\
  meterly usage check --customer-id cus_pro --feature-code api_calls --quantity 3
  meterly usage check --customer-id cus_pro --feature-code image --quantity 2
  meterly usage check --customer-id cus_wallet --feature-code sms --quantity 30   # denied
"""
)


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


def _connection_options() -> _Parser:
    """Options every call takes, accepted before or after the subcommand."""
    common = _Parser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument("--api-key", default=argparse.SUPPRESS, help=f"the API key (default: ${API_KEY_ENV})")
    group.add_argument(
        "--server-url",
        default=argparse.SUPPRESS,
        help=f"the API server (default: ${SERVER_URL_ENV}, else https://api.meterly.dev)",
    )
    group.add_argument(
        "--timeout-ms", type=int, default=argparse.SUPPRESS, help="timeout of each attempt, in ms"
    )
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
    groups = parser.add_subparsers(dest="group", metavar="{balances,usage,sandbox}", parser_class=_Parser)
    groups.required = True

    balances = groups.add_parser("balances", help="balance checks").add_subparsers(dest="command")
    balances.required = True
    check = balances.add_parser(
        "check",
        parents=[common],
        help="may this customer use this feature? (POST /v1/balances.check)",
        epilog=_BALANCES_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--customer-id", required=True, help="the customer, e.g. cus_pro")
    check.add_argument("--feature-id", required=True, help="the feature, e.g. messages")
    check.add_argument("--entity-id", help="one entity (seat) of the customer, e.g. seat_bob")
    check.add_argument(
        "--required-balance",
        type=float,
        help="denied if the balance is below this (with --send-event: the usage recorded)",
    )
    check.add_argument("--properties", type=_json_object, help="a JSON object sent with the event")
    check.add_argument("--send-event", action=argparse.BooleanOptionalAction, help="also record the usage")
    check.add_argument(
        "--with-preview", action=argparse.BooleanOptionalAction, help="include upgrade options if denied"
    )
    check.set_defaults(run=_balances_check)

    usage = groups.add_parser("usage", help="usage checks").add_subparsers(dest="command")
    usage.required = True
    ucheck = usage.add_parser(
        "check",
        parents=[common],
        help="can this customer consume this quantity? (POST /v1/usage/check)",
        epilog=_USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ucheck.add_argument("--customer-id", required=True, help="the customer, e.g. cus_pro")
    ucheck.add_argument("--feature-code", required=True, help="the feature, e.g. api_calls")
    ucheck.add_argument("--quantity", type=int, default=1, help="units to consume (default 1)")
    ucheck.set_defaults(run=_usage_check)

    sandbox = groups.add_parser("sandbox", help="the local sandbox server").add_subparsers(dest="command")
    sandbox.required = True
    serve = sandbox.add_parser(
        "serve",
        help="serve the Meterly API locally with seeded customers",
        description="Serve the Meterly API on 127.0.0.1 (port 8787) with the demo data "
        "(customers cus_free, cus_pro, cus_team, cus_wallet; key sk_test_sandbox) or a seed file.",
    )
    serve.add_argument("--port", type=int, help="the port to listen on")
    serve.add_argument("--seed", metavar="FILE", help="a JSON file of customers and balances")
    serve.set_defaults(run=_sandbox_serve)
    return parser


def _client(ns: argparse.Namespace) -> Meterly:
    api_key = getattr(ns, "api_key", None) or os.environ.get(API_KEY_ENV) or None
    if api_key is None:
        raise _UsageError(f"{PROG}: no API key: pass --api-key or set {API_KEY_ENV}")
    return Meterly(
        api_key=api_key,
        server_url=getattr(ns, "server_url", None),
        timeout_ms=getattr(ns, "timeout_ms", None),
        retry_config=None if getattr(ns, "no_retries", False) else UNSET,
    )


def _balances_check(ns: argparse.Namespace) -> Tuple[bool, Dict[str, Any]]:
    with _client(ns) as client:
        res = client.balances.check(
            customer_id=ns.customer_id,
            feature_id=ns.feature_id,
            entity_id=ns.entity_id,
            required_balance=ns.required_balance,
            properties=ns.properties,
            send_event=ns.send_event,
            with_preview=ns.with_preview,
        )
    return res.allowed, res.model_dump(mode="json", by_alias=True)


def _usage_check(ns: argparse.Namespace) -> Tuple[bool, Dict[str, Any]]:
    with _client(ns) as client:
        res = client.usage.check(
            customer_id=ns.customer_id, feature_code=ns.feature_code, quantity=ns.quantity
        )
    return res.allowed, res.model_dump(mode="json", by_alias=True)


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
    return sandbox_main(argv)


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
