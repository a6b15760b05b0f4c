"""OpenTelemetry for Meterly calls: one span per SDK call, and call, latency, fallback and circuit metrics,
and the usage outbox's events (queued, delivered, rejected, dropped, pending, the oldest one's age).

`pip install 'meterly[otel]'` (the OpenTelemetry API; the app brings its SDK and exporters), then
`MeterlyInstrumentor().instrument()` for every client or `.instrument_client(client)` for one. The span
of a call is current while it runs, so spans of an httpx instrumentation are its children, one per
attempt. Customer, feature and entity ids are personal data in many apps: they are recorded only with
`record_ids=True`.
"""

from __future__ import annotations

# The instrument reads its clients' pipeline (hooks, fail-open state): internals of the same package.
# pyright: reportPrivateUsage=false
import contextlib
import contextvars
import sys
import threading
import time
import weakref
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Generator,
    Iterable,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
    TypeVar,
)

from meterly.integrations._extra import missing

try:
    from opentelemetry import metrics, trace
except ImportError:  # pragma: no cover - exercised by the plain-install wheel test
    raise missing(__name__, "opentelemetry-api", "otel") from None

import httpx

from meterly._declaration import Operation
from meterly._hooks import HookContext
from meterly._raw import RawResponse
from meterly._version import __version__
from meterly.sdk import AsyncMeterly, Meterly, _BaseClient

__all__ = ["CIRCUIT_STATES", "OUTBOX_EVENT_STATES", "MeterlyInstrumentor", "outcome_of"]

T = TypeVar("T")

SCOPE = "meterly"
"""The instrumentation scope name of every span and metric."""

CIRCUIT_STATES = ("closed", "failing", "open", "half_open")
"""The states `meterly.client.circuits` counts circuits in."""

OUTBOX_EVENT_STATES = ("queued", "delivered", "rejected", "dropped")
"""What `meterly.outbox.events` counts, by `meterly.outbox.event.state`: events queued, delivered,
moved to the dead-letter list, and dropped (`on_full="drop_oldest"`, or held in memory at close)."""


def outcome_of(op: Operation[Any], result: Any) -> str:
    """`fallback`, `degraded`, `allowed` or `denied` for a check's answer (as the operation's declaration
    reads it); `ok` for any other result, such as a recorded event or a raw response."""
    if getattr(result, "is_fallback", False) is True:
        return "fallback"
    if getattr(result, "is_degraded", False) is True:
        return "degraded"
    if op.allowed is None or isinstance(result, RawResponse):
        return "ok"
    return "allowed" if op.allowed(result) else "denied"


class _Attempts:
    """What the hooks saw of one call's attempts."""

    __slots__ = ("count", "request_id", "status")

    def __init__(self) -> None:
        self.count = 0
        self.status: Optional[int] = None
        self.request_id: Optional[str] = None

    def saw(self, response: Optional[httpx.Response]) -> None:
        self.count += 1
        if response is not None:
            self.status = response.status_code
            self.request_id = response.headers.get("x-request-id")
        else:
            self.status = self.request_id = None


_CURRENT: contextvars.ContextVar[Optional[_Attempts]] = contextvars.ContextVar(
    "meterly_otel_attempts", default=None
)


class _AttemptHook:
    """Added after a client's own hooks: counts attempts and keeps the last status and request id."""

    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        attempts = _CURRENT.get()
        if attempts is not None:
            attempts.saw(response)
        return response

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> Tuple[Optional[httpx.Response], Optional[Exception]]:
        attempts = _CURRENT.get()
        if attempts is not None:
            attempts.saw(response)
        return response, error


_HOOK = _AttemptHook()


def _add_hook(client: _BaseClient[Any]) -> None:
    hooks = client._pipeline.hooks
    if _HOOK not in hooks.after_success_hooks:
        hooks.after_success_hooks.append(_HOOK)
        hooks.after_error_hooks.append(_HOOK)


def _remove_hook(client: _BaseClient[Any]) -> None:
    hooks = client._pipeline.hooks
    for hook_list in (hooks.after_success_hooks, hooks.after_error_hooks):
        if _HOOK in hook_list:
            hook_list.remove(_HOOK)


class MeterlyInstrumentor:
    """Traces and measures Meterly calls with the given (else the global) tracer and meter providers.

    Span `meterly <operationId>` (kind INTERNAL) with attributes `meterly.operation`, `meterly.attempts`,
    `meterly.outcome` (allowed, denied, fallback, degraded, error, or ok for results that are not checks),
    `http.response.status_code` and `meterly.request_id` of the last attempt, `meterly.fallback_reason`,
    and, with `record_ids=True` only, `meterly.customer_id`, `meterly.feature_id`, `meterly.entity_id`.
    Metrics: `meterly.client.calls` and `meterly.client.call.duration` (s) by operation and outcome,
    `meterly.client.fallbacks` by operation and reason, `meterly.client.circuits` (circuits per
    operation and state, for clients with fail-open); for the usage outboxes of the observed clients
    (every outbox of the process after `instrument()`): `meterly.outbox.events` by state (queued,
    delivered, rejected, dropped), `meterly.outbox.pending` and `meterly.outbox.oldest_pending_age` (s).
    """

    def __init__(
        self,
        *,
        tracer_provider: Optional[trace.TracerProvider] = None,
        meter_provider: Optional[metrics.MeterProvider] = None,
        record_ids: bool = False,
    ) -> None:
        """Create the instruments; nothing is observed until `instrument` or `instrument_client`.

        Args:
            tracer_provider: The provider of the spans; None: the global one.
            meter_provider: The provider of the metrics; None: the global one.
            record_ids: Put customer, feature and entity ids on spans (they may be personal data).
        """
        if not isinstance(record_ids, bool):
            raise TypeError("record_ids must be a bool")
        self.record_ids = record_ids
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self._calls = meter.create_counter(
            "meterly.client.calls", unit="{call}", description="Meterly SDK calls, by operation and outcome"
        )
        self._duration = meter.create_histogram(
            "meterly.client.call.duration",
            unit="s",
            description="Duration of Meterly SDK calls, every attempt and retry wait included",
        )
        self._fallbacks = meter.create_counter(
            "meterly.client.fallbacks",
            unit="{call}",
            description="Calls answered by a fail-open fallback, by operation and reason",
        )
        meter.create_observable_gauge(
            "meterly.client.circuits",
            callbacks=[self._observe_circuits],
            unit="{circuit}",
            description="Fail-open circuit breakers of instrumented clients, by operation and state",
        )
        meter.create_observable_counter(
            "meterly.outbox.events",
            callbacks=[self._observe_outbox_events],
            unit="{event}",
            description="Usage outbox events of this process, by state: queued, delivered, rejected, dropped",
        )
        meter.create_observable_up_down_counter(
            "meterly.outbox.pending",
            callbacks=[self._observe_outbox_pending],
            unit="{event}",
            description="Usage outbox events waiting or being delivered (a durable file: every process's)",
        )
        meter.create_observable_gauge(
            "meterly.outbox.oldest_pending_age",
            callbacks=[self._observe_outbox_age],
            unit="s",
            description="Seconds since the oldest waiting usage outbox event was queued (0: none waits)",
        )
        self._lock = threading.Lock()
        self._clients: weakref.WeakSet[_BaseClient[Any]] = weakref.WeakSet()
        self._operations: weakref.WeakKeyDictionary[_BaseClient[Any], Set[str]] = weakref.WeakKeyDictionary()

    # -- switching on and off -----------------------------------------------------------------------

    def instrument(self) -> None:
        """Observe every `Meterly` and `AsyncMeterly`, made before or after this call."""
        _BaseClient._instrument = self

    def uninstrument(self) -> None:
        """Stop observing the clients `instrument()` covered (those given to `instrument_client` stay)."""
        if _BaseClient.__dict__.get("_instrument") is self:
            _BaseClient._instrument = None
        with self._lock:
            clients = [client for client in self._clients if client.__dict__.get("_instrument") is not self]
        for client in clients:
            _remove_hook(client)
            self._clients.discard(client)

    def instrument_client(self, client: Any) -> None:
        """Observe this one client."""
        if not isinstance(client, (Meterly, AsyncMeterly)):
            raise TypeError("instrument_client takes a Meterly or an AsyncMeterly")
        client._instrument = self
        self._track(client)

    def uninstrument_client(self, client: Any) -> None:
        """Stop observing a client given to `instrument_client`."""
        if isinstance(client, (Meterly, AsyncMeterly)) and client.__dict__.get("_instrument") is self:
            del client._instrument
            _remove_hook(client)
            self._clients.discard(client)

    def _track(self, client: _BaseClient[Any]) -> None:
        with self._lock:
            if client not in self._clients:
                _add_hook(client)
                self._clients.add(client)

    # -- the seam: one whole call -------------------------------------------------------------------

    def call(self, client: Any, op: Operation[T], args: Mapping[str, Any], run: Callable[[], T]) -> T:
        """Runs one synchronous call inside its span, then records its metrics."""
        with self._observed(client, op, args) as outcome:
            result = run()
            outcome.append(result)
        return result

    async def acall(
        self, client: Any, op: Operation[T], args: Mapping[str, Any], run: Callable[[], Awaitable[T]]
    ) -> T:
        """Runs one asyncio call inside its span, then records its metrics."""
        with self._observed(client, op, args) as outcome:
            result = await run()
            outcome.append(result)
        return result

    @contextlib.contextmanager
    def _observed(
        self, client: Any, op: Operation[Any], args: Mapping[str, Any]
    ) -> Generator[List[Any], None, None]:
        """One call's span and attempt counter; the caller puts the call's result in the list given."""
        if client not in self._clients:
            self._track(client)
        attempts = _Attempts()
        token = _CURRENT.set(attempts)
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"meterly {op.operation_id}",
            kind=trace.SpanKind.INTERNAL,
            # An error's message may name the customer: the span keeps only its type (see `_finish`).
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            outcome: List[Any] = []
            try:
                yield outcome
            except BaseException as exc:
                self._finish(span, client, op, args, attempts, started, None, exc)
                raise
            finally:
                _CURRENT.reset(token)
            self._finish(span, client, op, args, attempts, started, outcome[0], None)

    def _finish(
        self,
        span: trace.Span,
        client: _BaseClient[Any],
        op: Operation[Any],
        args: Mapping[str, Any],
        attempts: _Attempts,
        started: float,
        result: Any,
        error: Optional[BaseException],
    ) -> None:
        elapsed = time.perf_counter() - started
        operation = op.operation_id
        outcome = "error" if error is not None else outcome_of(op, result)
        attributes: Dict[str, Any] = {
            "meterly.operation": operation,
            "meterly.attempts": attempts.count,
            "meterly.outcome": outcome,
        }
        status = attempts.status
        request_id = attempts.request_id
        if error is not None:
            # An error raised before or without an attempt (bad arguments, an open circuit) still says why.
            status = status if status is not None else getattr(error, "status_code", None)
            request_id = request_id if request_id is not None else getattr(error, "request_id", None)
            attributes["error.type"] = type(error).__qualname__
        if status is not None:
            attributes["http.response.status_code"] = status
        if request_id is not None:
            attributes["meterly.request_id"] = request_id
        reason = getattr(result, "fallback_reason", None) if outcome == "fallback" else None
        if reason is not None:
            attributes["meterly.fallback_reason"] = reason
        if self.record_ids:
            for name, key in (
                ("customer_id", "customer_id"),
                ("feature_id", op.feature_param),
                ("entity_id", "entity_id"),
            ):
                value = args.get(key) if key else None
                if isinstance(value, str):
                    attributes[f"meterly.{name}"] = value
        span.set_attributes(attributes)
        if error is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__qualname__))
        labels = {"meterly.operation": operation, "meterly.outcome": outcome}
        self._calls.add(1, labels)
        self._duration.record(elapsed, labels)
        if reason is not None:
            self._fallbacks.add(1, {"meterly.operation": operation, "meterly.fallback_reason": reason})
        if client._pipeline.fail_open is not None:
            seen = self._operations.get(client)
            if seen is None:
                with self._lock:
                    seen = self._operations.setdefault(client, set())
            seen.add(operation)

    def _observe_circuits(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        counts: Dict[str, Dict[str, int]] = {}
        with self._lock:
            clients: List[Tuple[_BaseClient[Any], List[str]]] = [
                (client, sorted(ops)) for client, ops in self._operations.items()
            ]
        seen: Set[int] = set()  # a `with_options` view shares its client's circuits: count each once
        for client, operations in clients:
            fail_open = client._pipeline.fail_open
            if fail_open is None:
                continue
            for operation in operations:
                circuit = fail_open.circuit(operation)
                if id(circuit) in seen:
                    continue
                seen.add(id(circuit))
                state = circuit.state
                per_state = counts.setdefault(operation, dict.fromkeys(CIRCUIT_STATES, 0))
                per_state[state] = per_state.get(state, 0) + 1
        return [
            metrics.Observation(count, {"meterly.operation": operation, "meterly.circuit.state": state})
            for operation, per_state in counts.items()
            for state, count in per_state.items()
        ]

    # -- the usage outbox ---------------------------------------------------------------------------

    def _outbox_stats(self) -> List[Tuple[str, Any]]:
        """(store kind, `OutboxStats`) of each open outbox observed: those of the observed clients (a
        `with_options` view shares its client's: counted once), and every outbox after `instrument()`."""
        with self._lock:
            clients = list(self._clients)
        outboxes: Dict[int, Any] = {}
        for client in clients:
            outbox = client.__dict__.get("_outbox")
            if outbox is not None:
                outboxes[id(outbox)] = outbox
        if _BaseClient.__dict__.get("_instrument") is self and "meterly.outbox" in sys.modules:
            from meterly.outbox._client import live_outboxes  # no outbox in use: never imported here

            for outbox in live_outboxes():
                outboxes.setdefault(id(outbox), outbox)
        return [
            ("sqlite" if outbox.store.durable else "memory", outbox.stats())
            for outbox in outboxes.values()
            if not outbox.closed
        ]

    def _observe_outbox_events(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        totals: Dict[Tuple[str, str], int] = {}
        for store, stats in self._outbox_stats():
            for state in OUTBOX_EVENT_STATES:
                totals[(store, state)] = totals.get((store, state), 0) + getattr(stats, state)
        return [
            metrics.Observation(count, {"meterly.outbox.store": store, "meterly.outbox.event.state": state})
            for (store, state), count in totals.items()
        ]

    def _observe_outbox_pending(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        totals: Dict[str, int] = {}
        for store, stats in self._outbox_stats():
            totals[store] = totals.get(store, 0) + stats.pending
        return [
            metrics.Observation(count, {"meterly.outbox.store": store}) for store, count in totals.items()
        ]

    def _observe_outbox_age(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        oldest: Dict[str, float] = {}
        for store, stats in self._outbox_stats():
            oldest[store] = max(oldest.get(store, 0.0), stats.oldest_pending_age or 0.0)
        return [metrics.Observation(age, {"meterly.outbox.store": store}) for store, age in oldest.items()]
