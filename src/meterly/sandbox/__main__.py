"""`python -m meterly.sandbox`: serve a sandbox from the shell until Ctrl-C.

python -m meterly.sandbox --error-status 429 --error-rate 0.2 --retry-after 2   # rate limits
python -m meterly.sandbox --degraded                                           # Autumn's 202
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, List, Optional

from meterly.sandbox._engine import COMMET_API_KEY, DEFAULT_API_KEY, SandboxEngine
from meterly.sandbox._seed import DEMO_SEED
from meterly.sandbox._server import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m meterly.sandbox",
        description="Serve a local, stateful Meterly sandbox (demo data unless --seed is given).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8787, help="port to serve on; 0 picks a free one (default 8787)"
    )
    parser.add_argument(
        "--seed", help="a JSON seed file: features, plans, customers (default: the demo data)"
    )
    keys_help = f"a key to accept (repeatable; default {DEFAULT_API_KEY} and {COMMET_API_KEY})"
    parser.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY", help=keys_help)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every answer")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests (0..1) answered --error-status"
    )
    parser.add_argument("--outage", action="store_true", help="answer every request --error-status")
    parser.add_argument(
        "--error-status",
        type=int,
        choices=(429, 500, 502, 503, 504),
        default=503,
        help="the status of those failures (default 503); 429 serves rate limits, each in its service's "
        "words (Autumn rate_limit_exceeded, Commet rate_limited) with a Retry-After",
    )
    parser.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="the Retry-After of a 429 (default 1)",
    )
    parser.add_argument(
        "--degraded",
        action="store_true",
        help="Autumn's own fail-open: balances.check answers 202, allowed, without reading or recording",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print one line per request")
    parser.add_argument("--print-demo-seed", action="store_true", help="print the demo seed as JSON and exit")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.print_demo_seed:
        print(json.dumps(DEMO_SEED, indent=2))
        return 0
    if not 0.0 <= args.error_rate <= 1.0:
        print("--error-rate must be between 0 and 1", file=sys.stderr)
        return 2
    if not args.retry_after >= 0:
        print("--retry-after must be at least 0", file=sys.stderr)
        return 2
    kwargs = {} if not args.api_keys else {"api_keys": args.api_keys}
    try:
        engine = SandboxEngine.from_seed(args.seed, **kwargs) if args.seed else SandboxEngine.demo(**kwargs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot load the seed: {exc}", file=sys.stderr)
        return 2
    engine.faults.latency_ms = args.latency_ms
    engine.faults.error_rate = args.error_rate
    engine.faults.outage = args.outage
    engine.faults.error_status = args.error_status
    engine.faults.retry_after_s = args.retry_after
    engine.faults.degraded = args.degraded
    log: Optional[Callable[[str], None]] = None if args.quiet else _print_line
    sandbox = Sandbox(engine, port=args.port, host=args.host, log=log)
    try:
        sandbox.start()
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    # Only the public default keys are named; keys given on the command line stay unprinted.
    public = [key for key in (DEFAULT_API_KEY, COMMET_API_KEY) if key in engine.api_keys]
    keys = (
        f"api key{'s' if len(public) > 1 else ''} {' and '.join(public)}"
        if public
        else f"{len(engine.api_keys)} api key(s)"
    )
    print(f"Meterly sandbox listening on {sandbox.url} ({keys}); Ctrl-C to stop", flush=True)
    try:
        sandbox.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def _print_line(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
