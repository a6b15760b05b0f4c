"""A fault storm of writes through `tests/faultproxy.py` on every engine, judged by the sandbox's ledger.

`python bench/storm.py --writes 1000` sends, per engine (`tests/integrity/harness.py`'s `ENGINES`: every
engine of both clients, with its own pool and with an injected client), that many writes (alternately
Commet's `usage.track` and Autumn's `balances.check(send_event=True)`, over eight customers, eight at a
time, `fail_open=True`, default retries and timeouts) through a proxy that answers a share of the
requests (`--fault-share`, 0.25) with a seeded random fault: dropped or reset after or before forwarding,
answered twice, trickled, 5xx with and without forwarding, 429 with odd Retry-After values. It prints,
per engine, what must be zero and the longest hold:

- lost: a real success for a write the sandbox never recorded;
- doubled: a write the sandbox recorded twice (it deduplicates Commet's and, today, Autumn's routes);
- autumn_resent: an Autumn check that reached the sandbox more than once (the real Autumn does not
  deduplicate it: each is a double count the sandbox hides);
- wrong: an answer echoing another request's customer or event;
- misreported: a fallback for a check the sandbox recorded that does not say `usage_recorded=None`;
- escaped: an error that is not a MeterlyError;
- stale: a call that read another request's answer and refused it (`ResponseMismatchError`, or
  `ResponseValidationError` for a copy of another operation's answer): nothing wrong was returned, but the
  connection should never have carried it (none of the proxy's faults sends a 2xx the service did not);
- longest hold: the wall time of the slowest call (the contract: <= 2 s).

`--duplicates 0.2` replaces the mix by answers sent twice only, a fifth of them: the mix doubles about 3%
of answers, too few to show a stale copy raced onto another call's connection (CHANGELOG "Fixed"). `--json`
prints one JSON object instead; `--check` exits 1 unless every count is zero and the longest
hold is within 2 s. The repository root must be importable (run from it, or set PYTHONPATH).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.faultproxy import Fault, FaultProxy, mix  # noqa: E402
from tests.integrity.harness import (  # noqa: E402
    ENGINES,
    SEED,
    Outcome,
    ledger,
    run_calls,
    served,
    write_outcome_unknown,
)

from meterly import errors  # noqa: E402

CUSTOMERS = [f"cus_storm_{n}" for n in range(8)]
STORM_SEED: dict[str, Any] = copy.deepcopy(SEED)
STORM_SEED["customers"] += [{"id": c, "plans": ["bulk"]} for c in CUSTOMERS]
HOLD_BUDGET_S = 2.0
MUST_BE_ZERO = ("lost", "doubled", "autumn_resent", "wrong", "misreported", "escaped", "stale")


def weights(fault_share: float) -> dict[Fault, float]:
    """Every fault equally likely; `fault_share` of the requests meet one, the rest go through."""
    faults = [fault for fault in Fault if fault is not Fault.OK]
    chances: dict[Fault, float] = {Fault.OK: 1.0 - fault_share}
    chances.update((fault, fault_share / len(faults)) for fault in faults)
    return chances


def calls(engine: str, writes: int) -> list[tuple[str, dict[str, Any]]]:
    made: list[tuple[str, dict[str, Any]]] = []
    for n in range(writes):
        key = f"storm-{engine}-{n}"
        customer = CUSTOMERS[n % len(CUSTOMERS)]
        if n % 2 == 0:
            made.append(
                (
                    "usage.track",
                    {
                        "customer_id": customer,
                        "feature_code": "messages",
                        "event_id": key,
                        "idempotency_key": key,
                    },
                )
            )
        else:
            made.append(
                (
                    "balances.check",
                    {
                        "customer_id": customer,
                        "feature_id": "messages",
                        "send_event": True,
                        "required_balance": 1,
                        "idempotency_key": key,
                    },
                )
            )
    return made


def judge(outcomes: list[Outcome], recorded: Counter[Any], arrived: Counter[Any]) -> dict[str, Any]:
    """The counts of one engine's storm (see the module docstring)."""
    unknown = write_outcome_unknown()
    report: Counter[str] = Counter()
    errors_by_type: Counter[str] = Counter()
    for outcome in outcomes:
        sdk_call, kwargs = outcome.call
        key = kwargs["idempotency_key"]
        report["writes"] += 1
        if recorded[key] > 1:
            report["doubled"] += 1
        if sdk_call == "balances.check" and arrived[key] > 1:
            report["autumn_resent"] += 1
        if outcome.error is not None:
            errors_by_type[type(outcome.error).__name__] += 1
            if isinstance(outcome.error, (errors.ResponseMismatchError, errors.ResponseValidationError)):
                report["stale"] += 1
            if not isinstance(outcome.error, errors.MeterlyError):
                report["escaped"] += 1
            elif isinstance(outcome.error, unknown):
                report["outcome_unknown"] += 1
            if recorded[key] > 0:
                report["raised_but_recorded"] += 1
            continue
        result = outcome.result
        if sdk_call == "usage.track":
            echoed_ok = result.event_id == kwargs["event_id"] and result.customer_id == kwargs["customer_id"]
        else:
            echoed_ok = result.customer_id == kwargs["customer_id"]
        if getattr(result, "is_fallback", False):
            report["fallbacks"] += 1
            said = getattr(result, "usage_recorded", "absent")
            if recorded[key] > 0 and said is not None:
                report["misreported"] += 1
            continue
        report["succeeded"] += 1
        if not echoed_ok:
            report["wrong"] += 1
        if recorded[key] == 0:
            report["lost"] += 1
    holds = sorted(o.seconds for o in outcomes)
    return {
        **{name: report[name] for name in ("writes", "succeeded", "fallbacks", "outcome_unknown")},
        **{name: report[name] for name in MUST_BE_ZERO},
        "raised_but_recorded": report["raised_but_recorded"],
        "errors": dict(errors_by_type),
        "longest_hold_s": round(holds[-1], 3) if holds else 0.0,
        "p99_hold_s": round(holds[int(len(holds) * 0.99) - 1], 3) if holds else 0.0,
    }


def storm(
    engine: str,
    writes: int,
    seed: int,
    concurrency: int,
    fault_share: float = 0.25,
    duplicates: float = 0.0,
) -> dict[str, Any]:
    """One engine's storm; `duplicates` (a share): only that many answers sent twice, no other fault."""
    started = time.monotonic()
    plan = weights(fault_share)
    if duplicates:
        plan = {Fault.OK: 1.0 - duplicates, Fault.DUPLICATE: duplicates}
    with (
        served(STORM_SEED) as sandbox,
        FaultProxy(sandbox.url, script=mix(seed, plan), trickle_bytes=96, trickle_delay_s=0.02) as proxy,
    ):
        outcomes = run_calls(
            engine, calls(engine, writes), concurrency=concurrency, server_url=proxy.url, fail_open=True
        )
        proxy.settle()
        engine_ledger = ledger(sandbox)
        recorded = engine_ledger.recorded()
        arrived = engine_ledger.arrived()
    report = judge(outcomes, recorded, arrived)
    report["proxy"] = {k: v for k, v in sorted(proxy.counts.items()) if k not in {f.value for f in Fault}}
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def clean(report: dict[str, Any]) -> bool:
    return all(report[name] == 0 for name in MUST_BE_ZERO) and report["longest_hold_s"] <= HOLD_BUDGET_S


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=1_000, help="writes per engine")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--fault-share", type=float, default=0.25, help="share of requests that meet a fault")
    parser.add_argument(
        "--duplicates",
        type=float,
        default=0.0,
        help="instead of the mix: only this share of answers sent twice (0.2 shows stale-copy races)",
    )
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 unless every engine is clean")
    args = parser.parse_args(argv)
    reports = {
        engine: storm(engine, args.writes, args.seed, args.concurrency, args.fault_share, args.duplicates)
        for engine in args.engines.split(",")
    }
    if args.json:
        print(json.dumps(reports))
    else:
        for engine, report in reports.items():
            figures = ", ".join(f"{name} {report[name]}" for name in MUST_BE_ZERO)
            print(
                f"{engine:21} {report['writes']} writes: {figures}, "
                f"longest hold {report['longest_hold_s']} s "
                f"(p99 {report['p99_hold_s']} s); {report['succeeded']} succeeded, {report['fallbacks']} "
                f"fallbacks, {report['outcome_unknown']} outcome unknown, errors {report['errors']}, "
                f"{report['raised_but_recorded']} raised but recorded; proxy {report['proxy']}; "
                f"{report['seconds']} s"
            )
    return 0 if not args.check or all(clean(r) for r in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
