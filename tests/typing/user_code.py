"""Code as a user writes it, with the exact types an IDE and a type checker must infer for it.

`make test` runs mypy --strict and pyright (strict) on this file; `tests/test_typing_user_code.py` also runs
each function against canned responses, so the code here is real, not only well-typed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, Optional, Union

import httpx
from typing_extensions import assert_type

import meterly
from meterly import AsyncMeterly, BackoffStrategy, Meterly, RawResponse, RetryConfig, errors, models
from meterly.hooks import AsyncHook, Hook, HookContext
from meterly.types import UNSET, OptionalNullable, UnrecognizedStr, Unset


class TagRequests:
    """A sync hook, as the README writes it."""

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        assert_type(ctx.operation_id, str)
        assert_type(ctx.base_url, str)
        request.headers["x-caller"] = "checkout-service"
        return request


class AuditErrors:
    """A sync after_error hook whose parameters have names of its own."""

    def after_error(
        self, context: HookContext, resp: Optional[httpx.Response], exc: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        return resp, exc


class AsyncTagRequests:
    """An async hook, awaited by AsyncMeterly."""

    async def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        request.headers["x-caller"] = "checkout-service"
        return request

    async def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        return response


def make_clients(transport: httpx.MockTransport) -> tuple[Meterly, AsyncMeterly]:
    """Both clients, built with every kind of constructor argument."""
    retry = RetryConfig("backoff", BackoffStrategy(100, 1_000, 2.0, 5_000), retry_connection_errors=True)
    client = Meterly(
        api_key=lambda: "sk_test_typing",
        server_url="https://billing.example",
        timeout_ms=2_000,
        retry_config=retry,
        client=httpx.Client(transport=transport),
        fail_open=True,
    )
    aclient = AsyncMeterly(
        security=models.Security(bearer_auth="sk_test_typing", api_key_auth="sk_test_typing"),
        retry_config=None,
        client=httpx.AsyncClient(transport=transport),
        hooks=[AsyncTagRequests(), TagRequests()],
    )
    sync_hooks: list[Hook] = [TagRequests(), AuditErrors()]
    async_hooks: list[AsyncHook] = [AsyncTagRequests(), *sync_hooks]
    assert len(async_hooks) == 3
    hooked = Meterly(api_key="sk_test_typing", hooks=sync_hooks, max_retries=2)
    view = hooked.with_options(timeout_ms=500, max_retries=0, fail_open=True)
    assert_type(view, Meterly)
    assert_type(aclient.with_options(retry_config=RetryConfig(max_retries=1)), AsyncMeterly)
    hooked.close()
    assert_type(client, Meterly)
    assert_type(aclient, AsyncMeterly)
    assert_type(client.server_url, str)
    assert_type(meterly.__version__, str)
    return client, aclient


def balances_check(client: Meterly) -> Optional[float]:
    """A balance check and its nested models; returns what is left of the first plan."""
    with client as same:
        assert_type(same, Meterly)
        res = same.balances.check(
            customer_id="cus_pro",
            feature_id="messages",
            required_balance=2,
            properties={"source": "typing"},
            send_event=False,
            with_preview=True,
            retries=UNSET,
            http_headers={"x-trace": "1"},
        )
    assert_type(res, models.CheckResponse)
    assert_type(res.allowed, bool)
    assert_type(res.customer_id, str)
    assert_type(res.is_fallback, bool)
    assert_type(
        res.fallback_reason,
        Optional[Literal["timeout", "connection", "server_error", "not_json", "circuit_open", "last_known"]],
    )
    assert_type(res.required_balance, Optional[float])
    assert_type(res.preview, Optional[models.Preview])
    assert_type(res.balance, Optional[models.Balance])
    balance = res.balance
    if balance is None:
        return None
    assert_type(balance.remaining, float)
    assert_type(balance.max_purchase, Optional[float])
    assert_type(balance.breakdown, Optional[list[models.Breakdown]])
    for part in balance.breakdown or []:
        assert_type(part, models.Breakdown)
        assert_type(part.plan_id, Optional[str])
        if part.reset is not None:
            assert_type(part.reset, models.Reset)
            assert_type(part.reset.interval, models.ResetInterval)
            interval: Union[str, UnrecognizedStr] = part.reset.interval
            assert isinstance(interval, str)
        return part.remaining
    return None


def unset_narrowing(res: models.CheckResponse) -> str:
    """`OptionalNullable` fields: absent is UNSET, null is None; both narrow the usual ways."""
    entity_id = res.entity_id
    assert_type(entity_id, OptionalNullable[str])
    assert_type(entity_id, Union[str, None, Unset])
    if isinstance(entity_id, Unset):
        assert_type(entity_id, Unset)
        return "absent"
    assert_type(entity_id, Optional[str])
    if entity_id is None:
        return "null"
    assert_type(entity_id, str)
    if res.entity_id:  # UNSET is falsy, and typed so: truthiness narrows it away
        assert_type(res.entity_id, str)
    return entity_id


def unset_identity_narrowing(res: models.CheckResponse) -> str:
    """`is UNSET` narrows too: `Unset` is a one-member enum, so `UNSET` reads as a literal."""
    entity_id = res.entity_id
    if entity_id is UNSET:
        return "absent"
    assert_type(entity_id, Optional[str])
    if entity_id is not None:
        assert_type(entity_id, str)
        return entity_id
    return "null"


def usage_check(client: Meterly) -> int:
    """A usage check and its open enums."""
    usage = client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=3)
    assert_type(usage, models.UsageCheck)
    assert_type(usage.feature_code, str)
    assert_type(usage.quantity, int)
    assert_type(usage.consumption_model, Optional[models.ConsumptionModel])
    assert_type(usage.remaining, Optional[float])
    if usage.consumption_model == "credits":
        return usage.estimated_credits or 0
    return usage.quantity


def usage_track(client: Meterly) -> float:
    """Recording usage: a mapping of properties, a datetime or ISO 8601 timestamp, the event back."""
    event = client.usage.track(
        customer_id="cus_pro",
        feature_code="image",
        value=2,
        properties={"model": "image-v2"},
        timestamp=datetime(2026, 12, 1, tzinfo=timezone.utc),
    )
    assert_type(event, models.UsageEvent)
    assert_type(event.event_id, Optional[str])
    assert_type(event.consumption, Optional[models.UsageEventConsumption])
    raw = client.usage.with_raw_response.track(
        customer_id="cus_pro", feature_code="image", timestamp="2026-12-01"
    )
    assert_type(raw, RawResponse[models.UsageEvent])
    return event.consumption.deducted if event.consumption is not None else 0.0


def usage_track_from_a_dict(client: Meterly) -> float:
    """The request TypedDicts are a method's arguments: a dict built elsewhere is checked where it is."""
    params: models.UsageTrackRequestTypedDict = {
        "customer_id": "cus_pro",
        "feature_code": "image",
        "timestamp": "2026-12-01T00:00:00Z",
        "properties": {"model": "image-v2"},
        "input_tokens": 120,
    }
    event = client.usage.track(**params)
    check: models.BalancesCheckRequestTypedDict = {"customer_id": "cus_pro", "feature_id": "messages"}
    assert_type(client.balances.check(**check), models.CheckResponse)
    return event.value


def raw_responses(client: Meterly) -> models.CheckResponse:
    """with_raw_response: the HTTP exchange, then the typed result."""
    raw = client.balances.with_raw_response.check(customer_id="cus_pro", feature_id="messages")
    assert_type(raw, RawResponse[models.CheckResponse])
    assert_type(raw.status_code, int)
    assert_type(raw.headers, httpx.Headers)
    assert_type(raw.request_id, Optional[str])
    assert_type(raw.http_response, httpx.Response)
    raw_usage = client.usage.with_raw_response.check(customer_id="cus_pro", feature_code="api_calls")
    assert_type(raw_usage, RawResponse[models.UsageCheck])
    assert_type(raw_usage.parse(), models.UsageCheck)
    return assert_type(raw.parse(), models.CheckResponse)


async def async_calls(client: AsyncMeterly) -> tuple[bool, bool]:
    """The same calls on the async client: awaited, with the same result types."""
    async with client as same:
        assert_type(same, AsyncMeterly)
        res = await same.balances.check(customer_id="cus_pro", feature_id="messages")
        usage = await same.usage.check(customer_id="cus_pro", feature_code="api_calls")
        raw = await same.balances.with_raw_response.check(customer_id="cus_pro", feature_id="messages")
        raw_usage = await same.usage.with_raw_response.check(customer_id="cus_pro", feature_code="api_calls")
    assert_type(res, models.CheckResponse)
    assert_type(usage, models.UsageCheck)
    assert_type(raw, RawResponse[models.CheckResponse])
    assert_type(raw_usage, RawResponse[models.UsageCheck])
    assert_type(raw.parse(), models.CheckResponse)
    return res.allowed, usage.allowed


def error_attributes(client: Meterly) -> dict[str, Any]:
    """Errors caught at the level a user cares about, with typed attributes."""
    try:
        client.balances.check(customer_id="cus_404", feature_id="messages")
    except errors.RateLimitError as exc:
        assert_type(exc.retry_after, Optional[float])
        return {"retry_after": exc.retry_after}
    except errors.APIError as exc:
        assert_type(exc.status_code, int)
        assert_type(exc.attempts, int)
        assert_type(exc.elapsed, Optional[float])
        assert_type(exc.code, Optional[str])
        assert_type(exc.type, Optional[str])
        assert_type(exc.param, Optional[str])
        assert_type(exc.doc_url, Optional[str])
        assert_type(exc.request_id, Optional[str])
        assert_type(exc.headers, httpx.Headers)
        assert_type(exc.body, str)
        assert_type(exc.message, str)
        assert_type(exc.raw_response, Optional[httpx.Response])
        return {"status": exc.status_code, "code": exc.code, "request_id": exc.request_id}
    except errors.APIConnectionError as exc:
        assert_type(exc, errors.APIConnectionError)
        return {"connection": str(exc)}
    except errors.RequestValidationError as exc:
        assert_type(exc.param, str)
        return {"param": exc.param}
    except errors.MeterlyError as exc:
        assert_type(exc.status_code, Optional[int])
        return {"other": exc.message}
    return {}


def mistakes_the_checkers_catch(client: Meterly) -> None:
    """Never called: each line is a mistake mypy and pyright must report (unused ignores fail the run)."""
    client.balances.check(customer_id=123, feature_id="messages")  # type: ignore[arg-type]
    client.balances.check(customer_id="cus_pro")  # type: ignore[call-arg]
    client.usage.check(customer_id="cus_pro", feature_code="x", quantity="3")  # type: ignore[arg-type]
    client.usage.track(customer_id="cus_pro", feature_code="x", properties={"n": 1})  # type: ignore[dict-item]
    client.usage.track(customer_id="cus_pro", feature_code="x", timestamp=1764547200)  # type: ignore[arg-type]
    res = client.balances.check(customer_id="cus_pro", feature_id="messages")
    print(res.alowed)  # type: ignore[attr-defined]
    Meterly(api_key=42)  # type: ignore[arg-type]
    Meterly(retry_config=3)  # type: ignore[arg-type]
    Meterly(hooks=[AsyncTagRequests()])  # type: ignore[list-item]
    Meterly(hooks=[object()])  # type: ignore[list-item]


def record_on_autumn(client: Meterly) -> int:
    """Autumn's recording: track, track_tokens, a batch of models and dicts, a lock and its finalize."""
    tracked = client.balances.track(
        customer_id="cus_pro",
        feature_id="messages",
        value=2,
        timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    assert_type(tracked, models.TrackResponse)
    assert_type(tracked.balance, Optional[models.Balance])
    queued = client.balances.track(customer_id="cus_pro", event_name="chat_message", async_=True)
    assert_type(queued.value, float)
    tokens = client.balances.track_tokens(
        customer_id="cus_pro", model_id="openai/gpt-4o-mini", input_tokens=1200, output_tokens=350
    )
    assert_type(tokens, models.TrackResponse)
    event: models.TrackEventTypedDict = {
        "customer_id": "cus_pro",
        "feature_id": "messages",
        "idempotency_key": "k1",
    }
    batch = client.balances.batch_track(
        events=[event, models.TrackEvent(customer_id="cus_pro", feature_id="messages")]
    )
    assert_type(batch, models.BatchTrackResponse)
    lock: models.LockTypedDict = {"lock_id": "typed_lock"}
    held = client.balances.check(customer_id="cus_pro", feature_id="messages", required_balance=2, lock=lock)
    action: Literal["confirm", "release"] = "confirm" if held.allowed else "release"
    done = client.balances.finalize(lock_id="typed_lock", action=action, override_value=1)
    assert_type(done, models.FinalizeResponse)
    client.balances.check(
        customer_id="cus_pro", feature_id="messages", lock=models.Lock(lock_id="typed_lock_2")
    )
    raw = client.balances.with_raw_response.finalize(lock_id="typed_lock_2", action="release")
    assert_type(raw, RawResponse[models.FinalizeResponse])
    return raw.status_code
