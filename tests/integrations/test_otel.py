"""`meterly.integrations.otel`: spans and metrics of SDK calls, read back from the OpenTelemetry SDK's
in-memory exporters, with calls answered by the sandbox."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, Dict, List, Tuple

import httpx
import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, errors
from meterly.integrations.otel import MeterlyInstrumentor, outcome_of
from meterly.sandbox import DEFAULT_API_KEY, Sandbox, SandboxEngine, SandboxTransport
from meterly.sdk import _BaseClient
from meterly.testing import without_waits

SEED = {
    "features": [{"id": "messages", "name": "Messages"}],
    "plans": [{"id": "free", "features": [{"feature_id": "messages", "included": 1}]}],
    "customers": [{"id": "user_1", "plans": ["free"]}],
}
pytestmark = pytest.mark.meterly_seed(SEED)


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])

    def instrumentor(self, **kwargs: Any) -> MeterlyInstrumentor:
        return MeterlyInstrumentor(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs
        )

    def finished(self) -> List[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def meterly_spans(self) -> List[ReadableSpan]:
        return [span for span in self.finished() if span.name.startswith("meterly ")]

    def points(self, name: str) -> List[Tuple[Dict[str, Any], Any]]:
        """(attributes, value) of each data point of the metric `name`: a sum's value or a histogram."""
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            found.append((dict(point.attributes or {}), point))
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    yield Telemetry()
    _BaseClient._instrument = None


def test_a_call_is_one_span_with_its_operation_attempts_outcome_status_and_request_id(
    telemetry: Telemetry, meterly_client: Meterly, meterly_engine: SandboxEngine
) -> None:
    telemetry.instrumentor().instrument_client(meterly_client)
    meterly_client.balances.check(customer_id="user_1", feature_id="messages")

    (span,) = telemetry.finished()
    assert span.name == "meterly balancesCheck"
    assert span.kind is SpanKind.INTERNAL
    assert dict(span.attributes or {}) == {
        "meterly.operation": "balancesCheck",
        "meterly.attempts": 1,
        "meterly.outcome": "allowed",
        "http.response.status_code": 200,
        "meterly.request_id": meterly_engine.history[-1].request_id,
    }
    assert span.status.status_code is StatusCode.UNSET


def test_ids_are_recorded_only_when_asked_for(telemetry: Telemetry, meterly_client: Meterly) -> None:
    telemetry.instrumentor(record_ids=True).instrument_client(meterly_client)
    meterly_client.balances.check(customer_id="user_1", feature_id="messages")
    meterly_client.usage.check(customer_id="user_1", feature_code="messages")

    check, usage = telemetry.finished()
    assert check.attributes is not None
    assert usage.attributes is not None
    assert (check.attributes["meterly.customer_id"], check.attributes["meterly.feature_id"]) == (
        "user_1",
        "messages",
    )
    assert (usage.attributes["meterly.operation"], usage.attributes["meterly.feature_id"]) == (
        "usageCheck",
        "messages",
    )
    assert "meterly.entity_id" not in check.attributes


def test_the_call_span_is_the_parent_of_each_httpx_attempt_span(
    telemetry: Telemetry, meterly_engine: SandboxEngine
) -> None:
    http = httpx.Client(transport=SandboxTransport(meterly_engine))
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=telemetry.tracer_provider)
    client = Meterly(api_key=DEFAULT_API_KEY, client=http)
    without_waits(client)
    telemetry.instrumentor().instrument_client(client)
    meterly_engine.faults.fail_next(2)

    client.balances.check(customer_id="user_1", feature_id="messages")

    (call,) = telemetry.meterly_spans()
    attempts = [span for span in telemetry.finished() if span is not call]
    assert len(attempts) == 3
    assert all(span.parent is not None and span.parent.span_id == call.context.span_id for span in attempts)
    assert all(span.context.trace_id == call.context.trace_id for span in attempts)
    assert call.attributes is not None
    assert (call.attributes["meterly.attempts"], call.attributes["http.response.status_code"]) == (3, 200)


def test_async_calls_are_traced_and_parent_their_httpx_spans(
    telemetry: Telemetry, meterly_engine: SandboxEngine
) -> None:
    http = httpx.AsyncClient(transport=SandboxTransport(meterly_engine))
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=telemetry.tracer_provider)
    client = AsyncMeterly(api_key=DEFAULT_API_KEY, client=http)
    without_waits(client)
    telemetry.instrumentor().instrument_client(client)
    meterly_engine.faults.fail_next(1)

    async def two_calls_at_once() -> None:
        await asyncio.gather(
            client.balances.check(customer_id="user_1", feature_id="messages"),
            client.usage.check(customer_id="user_1", feature_code="messages"),
        )

    asyncio.run(two_calls_at_once())

    calls = {span.name: span for span in telemetry.meterly_spans()}
    assert set(calls) == {"meterly balancesCheck", "meterly usageCheck"}
    attempts = [span for span in telemetry.finished() if not span.name.startswith("meterly ")]
    assert len(attempts) == 3
    by_parent = {
        name: sum(1 for s in attempts if s.parent and s.parent.span_id == span.context.span_id)
        for name, span in calls.items()
    }
    total_attempts = {name: (span.attributes or {})["meterly.attempts"] for name, span in calls.items()}
    assert by_parent == total_attempts
    assert sorted(total_attempts.values()) == [1, 2]


def test_denied_and_error_outcomes(
    telemetry: Telemetry, meterly_client: Meterly, meterly_engine: SandboxEngine
) -> None:
    telemetry.instrumentor().instrument_client(meterly_client)
    meterly_client.balances.check(customer_id="user_1", feature_id="messages", send_event=True)
    meterly_client.balances.check(customer_id="user_1", feature_id="messages", send_event=True)
    with pytest.raises(errors.NotFoundError):
        meterly_client.balances.check(customer_id="nobody", feature_id="messages")

    allowed, denied, failed = telemetry.finished()
    assert [(span.attributes or {})["meterly.outcome"] for span in (allowed, denied, failed)] == [
        "allowed",
        "denied",
        "error",
    ]
    attributes = dict(failed.attributes or {})
    assert attributes["error.type"] == "NotFoundError"
    assert attributes["http.response.status_code"] == 404
    assert attributes["meterly.request_id"] == meterly_engine.history[-1].request_id
    assert failed.status.status_code is StatusCode.ERROR
    # The error's message names the customer; without record_ids it is kept out of the span.
    assert "nobody" not in str(failed.to_json())


def test_a_bad_argument_is_an_error_span_without_attempts(
    telemetry: Telemetry, meterly_client: Meterly
) -> None:
    telemetry.instrumentor().instrument_client(meterly_client)
    with pytest.raises(errors.RequestValidationError):
        meterly_client.balances.check(customer_id="", feature_id="messages")
    (span,) = telemetry.finished()
    assert (span.attributes or {})["meterly.attempts"] == 0
    assert (span.attributes or {})["error.type"] == "RequestValidationError"


def _fail_open_client(engine: SandboxEngine, policy: FailOpenPolicy) -> Meterly:
    http = httpx.Client(transport=SandboxTransport(engine))
    client = Meterly(api_key=DEFAULT_API_KEY, client=http, fail_open=policy, retry_config=None)
    return client


def test_fallbacks_and_circuit_state_are_measured(
    telemetry: Telemetry, meterly_engine: SandboxEngine
) -> None:
    meterly_engine.faults.outage = True
    client = _fail_open_client(meterly_engine, FailOpenPolicy(failure_threshold=2, cooldown_ms=60_000))
    telemetry.instrumentor().instrument_client(client)

    for _ in range(3):  # two failed attempts open the circuit; the third call answers at once
        assert client.balances.check(customer_id="user_1", feature_id="messages").is_fallback

    spans = telemetry.finished()
    reasons = [(span.attributes or {}).get("meterly.fallback_reason") for span in spans]
    assert reasons == ["server_error", "server_error", "circuit_open"]
    assert [(span.attributes or {})["meterly.outcome"] for span in spans] == ["fallback"] * 3
    assert (spans[2].attributes or {})["meterly.attempts"] == 0

    fallbacks = {
        attrs["meterly.fallback_reason"]: point.value
        for attrs, point in telemetry.points("meterly.client.fallbacks")
    }
    assert fallbacks == {"server_error": 2, "circuit_open": 1}
    circuits = {
        attrs["meterly.circuit.state"]: point.value
        for attrs, point in telemetry.points("meterly.client.circuits")
        if attrs["meterly.operation"] == "balancesCheck"
    }
    assert circuits == {"closed": 0, "failing": 0, "open": 1, "half_open": 0}

    meterly_engine.faults.outage = False
    client._pipeline.fail_open.circuit("balancesCheck").succeeded()  # type: ignore[union-attr]
    circuits = {a["meterly.circuit.state"]: p.value for a, p in telemetry.points("meterly.client.circuits")}
    assert circuits["closed"] == 1
    assert circuits["open"] == 0


def test_call_count_and_latency_by_operation_and_outcome(
    telemetry: Telemetry, meterly_client: Meterly
) -> None:
    telemetry.instrumentor().instrument_client(meterly_client)
    for _ in range(3):
        meterly_client.balances.check(customer_id="user_1", feature_id="messages", send_event=True)
    meterly_client.usage.check(customer_id="user_1", feature_code="messages")

    calls = {
        (a["meterly.operation"], a["meterly.outcome"]): p.value
        for a, p in telemetry.points("meterly.client.calls")
    }
    assert calls == {
        ("balancesCheck", "allowed"): 1,
        ("balancesCheck", "denied"): 2,
        ("usageCheck", "denied"): 1,
    }
    durations = {
        (a["meterly.operation"], a["meterly.outcome"]): p
        for a, p in telemetry.points("meterly.client.call.duration")
    }
    assert durations[("balancesCheck", "denied")].count == 2
    assert 0 < durations[("balancesCheck", "denied")].sum < 5


def test_instrument_covers_every_client_until_uninstrument(
    telemetry: Telemetry, meterly_engine: SandboxEngine
) -> None:
    def new_client() -> Meterly:
        return Meterly(
            api_key=DEFAULT_API_KEY, client=httpx.Client(transport=SandboxTransport(meterly_engine))
        )

    before = new_client()
    instrumentor = telemetry.instrumentor()
    instrumentor.instrument()
    after = new_client()
    before.usage.check(customer_id="user_1", feature_code="messages")
    after.usage.check(customer_id="user_1", feature_code="messages")
    assert len(telemetry.finished()) == 2

    instrumentor.uninstrument()
    before.usage.check(customer_id="user_1", feature_code="messages")
    new_client().usage.check(customer_id="user_1", feature_code="messages")
    assert len(telemetry.finished()) == 2
    assert before._pipeline.hooks.after_success_hooks == []
    assert before._pipeline.hooks.after_error_hooks == []


def test_uninstrument_client_restores_the_client(telemetry: Telemetry, meterly_client: Meterly) -> None:
    instrumentor = telemetry.instrumentor()
    instrumentor.instrument_client(meterly_client)
    instrumentor.uninstrument_client(meterly_client)
    meterly_client.usage.check(customer_id="user_1", feature_code="messages")
    assert telemetry.finished() == []
    assert meterly_client._instrument is None
    assert meterly_client._pipeline.hooks.after_success_hooks == []


def test_without_instrumentation_a_client_has_no_instrument_and_no_hooks(meterly_client: Meterly) -> None:
    assert meterly_client._instrument is None
    assert meterly_client._pipeline.hooks.after_success_hooks == []
    with pytest.raises(TypeError):
        MeterlyInstrumentor().instrument_client(object())
    with pytest.raises(TypeError):
        MeterlyInstrumentor(record_ids="yes")  # type: ignore[arg-type]


class _Answer:
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


@pytest.mark.parametrize(
    ("op_id", "answer", "outcome"),
    [
        ("balancesCheck", _Answer(allowed=True, is_fallback=False), "allowed"),
        ("usageCheck", _Answer(allowed=False, is_fallback=False), "denied"),
        ("balancesCheck", _Answer(allowed=False, is_fallback=True), "fallback"),
        # `is_degraded`: the service's own fail-open answer (a 202), as CheckResponse reports it.
        ("balancesCheck", _Answer(allowed=True, is_fallback=False, is_degraded=True), "degraded"),
        # A write's answer has no `allowed` in the registry: it is simply ok.
        ("usageTrack", _Answer(id="evt_1", allowed=False), "ok"),
    ],
)
def test_outcome_of_an_answer_follows_the_registry(op_id: str, answer: Any, outcome: str) -> None:
    from meterly._registry import BY_ID

    assert outcome_of(BY_ID[op_id], answer) == outcome


def test_import_meterly_loads_neither_opentelemetry_nor_the_integrations() -> None:
    code = (
        "import sys, meterly; meterly.Meterly(api_key='k'); "
        "print(any(m.startswith(('opentelemetry', 'meterly.integrations', 'meterly._instrument')) "
        "for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == "False\n"


@pytest.mark.parametrize(
    ("module", "package", "extra"),
    [
        ("meterly.integrations.otel", "opentelemetry", "otel"),
        ("meterly.integrations.fastapi", "fastapi", "fastapi"),
        ("meterly.integrations.django", "django", "django"),
    ],
)
def test_an_integration_without_its_framework_says_which_extra_to_install(
    module: str, package: str, extra: str
) -> None:
    code = f"import sys; sys.modules[{package!r}] = None\nimport {module}"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ImportError: {module} needs ")
    assert last.endswith(f"pip install 'meterly[{extra}]'")


def test_a_view_of_an_instrumented_client_is_traced_and_shares_its_circuits(
    telemetry: Telemetry, meterly_engine: SandboxEngine
) -> None:
    client = _fail_open_client(meterly_engine, FailOpenPolicy(failure_threshold=1))
    telemetry.instrumentor().instrument_client(client)
    view = client.with_options(timeout_ms=900)
    meterly_engine.faults.outage = True

    client.balances.check(customer_id="user_1", feature_id="messages")
    assert view.balances.check(customer_id="user_1", feature_id="messages").fallback_reason == "circuit_open"

    first, second = [(span.attributes or {})["meterly.attempts"] for span in telemetry.finished()]
    assert first == 1  # its failure opened the circuit
    assert second == 0  # the view's call was answered by the shared, open circuit
    circuits = {a["meterly.circuit.state"]: p.value for a, p in telemetry.points("meterly.client.circuits")}
    assert circuits["open"] == 1
    assert len(client._pipeline.hooks.after_success_hooks) == 1


def test_a_202_answer_is_the_degraded_outcome(telemetry: Telemetry) -> None:
    # The sandbox never degrades; this fake answers as the service does when it fails open on its own.
    def degraded(request: httpx.Request) -> httpx.Response:
        body = {"allowed": True, "customer_id": "user_1", "balance": None}
        return httpx.Response(202, json=body, headers={"x-request-id": "req_degraded"})

    client = Meterly(api_key=DEFAULT_API_KEY, client=httpx.Client(transport=httpx.MockTransport(degraded)))
    telemetry.instrumentor().instrument_client(client)
    assert client.balances.check(customer_id="user_1", feature_id="messages").is_degraded

    (span,) = telemetry.finished()
    attributes = dict(span.attributes or {})
    assert (attributes["meterly.outcome"], attributes["http.response.status_code"]) == ("degraded", 202)
    assert attributes["meterly.request_id"] == "req_degraded"


def _outbox_points(telemetry: Telemetry) -> Tuple[Dict[str, Any], Any, Any]:
    events = {a["meterly.outbox.event.state"]: p.value for a, p in telemetry.points("meterly.outbox.events")}
    (pending,) = [p.value for _, p in telemetry.points("meterly.outbox.pending")]
    (age,) = [p.value for _, p in telemetry.points("meterly.outbox.oldest_pending_age")]
    return events, pending, age


def test_the_outbox_reports_queued_delivered_rejected_pending_and_the_oldest_age(
    telemetry: Telemetry, meterly_server: Sandbox
) -> None:
    import time

    from meterly import Outbox

    meterly_server.engine.faults.outage = True
    client = Meterly(
        server_url=meterly_server.url, api_key=meterly_server.api_key, outbox=Outbox(retry_initial_ms=20)
    )
    telemetry.instrumentor().instrument_client(client)
    client.outbox.usage.track(customer_id="user_1", feature_code="messages")
    client.outbox.usage.track(customer_id="nobody", feature_code="messages")
    time.sleep(0.05)
    events, pending, age = _outbox_points(telemetry)
    assert events == {"queued": 2, "delivered": 0, "rejected": 0, "dropped": 0}
    assert pending == 2
    assert age >= 0.05

    meterly_server.engine.faults.outage = False
    assert client.outbox.flush(timeout_ms=10_000).pending == 0
    events, pending, age = _outbox_points(telemetry)
    assert events == {"queued": 2, "delivered": 1, "rejected": 1, "dropped": 0}
    assert (pending, age) == (0, 0)
    client.close()
    assert telemetry.points("meterly.outbox.pending") == []  # a closed outbox is no longer observed


def test_instrument_observes_every_outbox_once_even_through_a_view(
    telemetry: Telemetry, meterly_server: Sandbox, tmp_path: Any
) -> None:
    from meterly import Outbox
    from meterly.outbox._client import live_outboxes

    telemetry.instrumentor().instrument()
    meterly_server.engine.faults.outage = True
    client = Meterly(
        server_url=meterly_server.url,
        api_key=meterly_server.api_key,
        outbox=Outbox(path=str(tmp_path / "o.db")),
    )
    view = client.with_options(timeout_ms=500)
    view.outbox.usage.track(customer_id="user_1", feature_code="messages")
    client.outbox.commit()
    # instrument() observes every open outbox of the process, so other tests' may be counted too
    boxes = live_outboxes()
    assert client.outbox in boxes
    queued = {a["meterly.outbox.store"]: p.value for a, p in telemetry.points("meterly.outbox.events")
              if a["meterly.outbox.event.state"] == "queued"}  # fmt: skip
    durable = [box for box in boxes if box.store.durable]
    assert queued["sqlite"] == sum(box.stats().queued for box in durable)  # the view's is its client's
    meterly_server.engine.faults.outage = False
    client.close()
