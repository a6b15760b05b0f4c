"""The Meterly SDK against the built-in sandbox: checks, usage running out, honest retries, usage models,
and fail-open during an outage. Uses only the public SDK; runs in a few seconds with no network."""

from __future__ import annotations

import asyncio
import logging

from meterly import AsyncMeterly, BackoffStrategy, Meterly, RetryConfig, errors
from meterly.models import CheckResponse, UsageCheck
from meterly.sandbox import Sandbox

QUICK_RETRIES = RetryConfig(
    backoff=BackoffStrategy(initial_interval=50, max_interval=200, max_elapsed_time=1_000)
)


def title(text: str) -> None:
    print(f"\n== {text}")


def show_check(label: str, res: CheckResponse) -> None:
    balance = res.balance
    left = "no balance" if balance is None else f"usage {balance.usage:g}, remaining {balance.remaining:g}"
    print(f"  {label:<34} allowed={res.allowed!s:<5} {left}")


def show_usage(res: UsageCheck) -> None:
    if res.consumption_model == "metered":
        detail = f"current {res.current:g} of {res.included:g} included, overage {res.overage_enabled}"
    elif res.consumption_model == "credits":
        detail = f"{res.estimated_credits} credits needed, {res.total_credits} left"
    else:
        detail = f"{res.estimated_amount:g} {res.currency} needed, balance {res.current_balance:g}"
    reason = f" reason={res.reason}" if res.reason else ""
    head = f"{res.consumption_model:<8} {res.feature_code:<9} x{res.quantity:<3}"
    print(f"  {head} allowed={res.allowed!s:<5}{reason}")
    print(f"           {detail}")


async def async_checks(url: str, api_key: str) -> None:
    async with AsyncMeterly(api_key=api_key, server_url=url) as client:
        pro, sso = await asyncio.gather(
            client.balances.check(customer_id="cus_pro", feature_id="messages"),
            client.balances.check(customer_id="cus_pro", feature_id="sso"),
        )
    show_check("async cus_pro messages", pro)
    show_check("async cus_pro sso (boolean)", sso)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  [log] %(levelname)s %(name)s: %(message)s")
    with Sandbox() as sandbox:  # the demo data, served on a free 127.0.0.1 port
        engine = sandbox.engine
        print(f"Meterly sandbox running at {sandbox.url}")
        with Meterly(api_key=sandbox.api_key, server_url=sandbox.url, retry_config=QUICK_RETRIES) as client:
            title("1. Sync and async checks")
            show_check(
                "cus_pro messages", client.balances.check(customer_id="cus_pro", feature_id="messages")
            )
            show_check(
                "cus_free sso (not in plan)", client.balances.check(customer_id="cus_free", feature_id="sso")
            )
            asyncio.run(async_checks(sandbox.url, sandbox.api_key))

            title("2. send_event consumes usage until a denial with a preview")
            for n in range(1, 5):
                res = client.balances.check(
                    customer_id="cus_free", feature_id="messages", send_event=True, with_preview=True
                )
                show_check(f"cus_free sends message #{n}", res)
                if res.preview is not None:
                    offers = ", ".join(p.name for p in res.preview.products)
                    print(
                        f"  -> paywall: {res.preview.title!r} ({res.preview.scenario}); upgrade to: {offers}"
                    )
                    break

            title("3. A lost answer: Commet's track is retried with its key, Autumn's check is not resent")
            mark = len(engine.history)
            engine.faults.drop_next()  # the event is recorded, then the connection drops before the answer
            event = client.usage.track(customer_id="cus_pro", feature_code="api_calls", event_id="evt-demo")
            attempts = list(engine.history)[mark:]
            for call in attempts:
                what = (
                    "answer lost"
                    if call.dropped
                    else "replayed the first answer"
                    if call.replayed
                    else "answered"
                )
                print(f"  track attempt with key {str(call.idempotency_key)[:8]}...: {what}")
            recorded = sum(1 for call in attempts if not call.replayed)
            print(
                f"  event {event.event_id} recorded once over {len(attempts)} attempts ({recorded} recorded)"
            )
            before = client.balances.check(customer_id="cus_pro", feature_id="messages").balance
            engine.faults.drop_next()  # Autumn records the usage, then the answer is lost
            try:
                client.balances.check(
                    customer_id="cus_pro", feature_id="messages", required_balance=5, send_event=True
                )
            except errors.WriteOutcomeUnknownError as exc:
                print(
                    f"  send_event check: raised {type(exc).__name__} (key {str(exc.idempotency_key)[:8]}...)"
                )
            after = client.balances.check(customer_id="cus_pro", feature_id="messages").balance
            assert before is not None
            assert after is not None
            print(f"  usage went {before.usage:g} -> {after.usage:g}: 5 deducted once, never resent")

            title("4. usage.check for each consumption model")
            show_usage(client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=25))
            show_usage(client.usage.check(customer_id="cus_free", feature_code="messages", quantity=1))
            show_usage(client.usage.check(customer_id="cus_pro", feature_code="image", quantity=3))
            show_usage(client.usage.check(customer_id="cus_wallet", feature_code="sms", quantity=10))
            show_usage(client.usage.check(customer_id="cus_wallet", feature_code="sms", quantity=30))

            title("5. An outage: fail_open keeps the app running")
            engine.faults.outage = True
            try:
                client.balances.check(customer_id="cus_pro", feature_id="messages")
            except errors.InternalServerError as exc:
                print(
                    f"  fail_open=False: raised {type(exc).__name__} "
                    f"(status {exc.status_code}, code {exc.code})"
                )
            with Meterly(
                api_key=sandbox.api_key, server_url=sandbox.url, retry_config=QUICK_RETRIES, fail_open=True
            ) as tolerant:
                res = tolerant.balances.check(customer_id="cus_pro", feature_id="messages")
                print(f"  fail_open=True:  allowed={res.allowed} is_fallback={res.is_fallback}")
            engine.faults.outage = False
    print("\nDone: everything above ran against the local sandbox.")


if __name__ == "__main__":
    main()
