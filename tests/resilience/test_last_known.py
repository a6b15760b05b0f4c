"""Last-known answers: with `FailOpenPolicy(last_known_max_age_ms=...)` a failed check is answered with the
last real answer this client saw for the same customer, feature and entity, within the maximum age
(`fallback_reason="last_known"`); the store is a bounded LRU, thread- and fork-safe, and a check that
records usage never stores or gets one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any, Callable

import httpx
import pytest

from meterly import FailOpenPolicy, errors
from meterly._fail_open import LastKnown
from tests.conftest import CHECK_BODY, USAGE_BODY, FakeClock, Harness, json_response

from .test_process_safety import run_in_child

Make = Callable[..., Harness]

DENIED = {**CHECK_BODY, "allowed": False, "customer_id": "cus_1"}
POLICY = FailOpenPolicy(default="allow", last_known_max_age_ms=60_000)


class Service:
    """A handler that answers `DENIED` (a real answer) while `up`, and 503 once it is down."""

    def __init__(self, body: dict[str, Any] = DENIED) -> None:
        self.up = True
        self.body = body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, self.body) if self.up else json_response(503, {"message": "down"})


def test_an_outage_is_answered_with_the_last_real_answer(make: Make) -> None:
    service = Service()
    h = make(service, fail_open=POLICY, retry_config=None)
    real = h.check(customer_id="cus_1")
    service.up = False
    res = h.check(customer_id="cus_1")
    assert (real.is_fallback, real.allowed) == (False, False)
    assert (res.is_fallback, res.fallback_reason, res.allowed) == (True, "last_known", False)
    assert res.balance == real.balance
    assert res.model_dump() == real.model_dump()


def test_an_answer_older_than_the_maximum_age_is_not_used(make: Make, clock: FakeClock) -> None:
    service = Service()
    h = make(service, fail_open=POLICY, retry_config=None)
    h.check(customer_id="cus_1")
    service.up = False
    clock.now += 59.9
    assert h.check(customer_id="cus_1").fallback_reason == "last_known"
    clock.now += 0.2
    res = h.check(customer_id="cus_1")
    assert (res.fallback_reason, res.allowed) == ("server_error", True)  # the policy's default


def test_answers_are_kept_per_customer_feature_and_entity(make: Make) -> None:
    service = Service()
    h = make(
        service, fail_open=FailOpenPolicy(default="allow", last_known_max_age_ms=60_000), retry_config=None
    )
    h.check(customer_id="cus_1", feature_id="messages")
    service.up = False
    assert h.check(customer_id="cus_1", feature_id="messages").fallback_reason == "last_known"
    assert h.check(customer_id="cus_1", feature_id="messages", entity_id="seat_1").fallback_reason == (
        "server_error"
    )
    assert h.check(customer_id="cus_2", feature_id="messages").fallback_reason == "server_error"
    assert h.check(customer_id="cus_1", feature_id="exports").fallback_reason == "server_error"


def test_usage_check_answers_are_kept_by_feature_code(make: Make) -> None:
    denied = {"success": True, "data": {**USAGE_BODY["data"], "allowed": False}}
    service = Service(denied)
    h = make(service, fail_open=POLICY, retry_config=None)
    h.usage(customer_id="cus_1", feature_code="api_calls")
    service.up = False
    res = h.usage(customer_id="cus_1", feature_code="api_calls")
    assert (res.fallback_reason, res.allowed, res.current) == ("last_known", False, 10)
    assert h.usage(customer_id="cus_1", feature_code="exports").fallback_reason == "server_error"


def test_a_check_that_records_usage_never_stores_an_answer(make: Make) -> None:
    service = Service()
    h = make(service, fail_open=POLICY, retry_config=None)
    h.check(customer_id="cus_1", send_event=True)
    service.up = False
    assert h.check(customer_id="cus_1").fallback_reason == "server_error"


def test_a_degraded_answer_is_never_stored(make: Make) -> None:
    answers = [json_response(200, DENIED), json_response(202, {**DENIED, "allowed": True})]
    h = make(
        lambda request: answers.pop(0) if answers else json_response(503, {}),
        fail_open=POLICY,
        retry_config=None,
    )
    assert h.check(customer_id="cus_1").allowed is False  # a real answer: stored
    assert h.check(customer_id="cus_1").is_degraded  # the service's own fail-open guess
    res = h.check(customer_id="cus_1")
    # The outage is answered with the last real answer (denied), not the 202's guess (allowed).
    assert (res.fallback_reason, res.allowed) == ("last_known", False)


def test_a_check_that_records_usage_never_gets_a_stored_answer(make: Make) -> None:
    service = Service()
    h = make(service, fail_open=POLICY, retry_config=None)
    h.check(customer_id="cus_1")
    service.up = False
    res = h.check(customer_id="cus_1", send_event=True)
    assert (res.fallback_reason, res.allowed) == ("server_error", True)  # and no usage was recorded
    assert h.check(customer_id="cus_1", send_event=False).fallback_reason == "last_known"


def test_last_known_answers_are_off_by_default(make: Make) -> None:
    service = Service()
    h = make(service, fail_open=True, retry_config=None)
    h.check(customer_id="cus_1")
    service.up = False
    res = h.check(customer_id="cus_1")
    assert (res.fallback_reason, res.allowed) == ("server_error", True)


def test_an_open_circuit_answers_with_the_last_known_answer_too(make: Make) -> None:
    service = Service()
    policy = FailOpenPolicy(failure_threshold=1, last_known_max_age_ms=60_000)
    h = make(service, fail_open=policy, retry_config=None)
    h.check(customer_id="cus_1")
    service.up = False
    h.check(customer_id="cus_1")  # opens the circuit
    calls = len(h.requests)
    res = h.check(customer_id="cus_1")
    assert (res.fallback_reason, res.allowed, len(h.requests)) == ("last_known", False, calls)
    assert h.check(customer_id="cus_2").fallback_reason == "circuit_open"


def test_changing_a_last_known_answer_does_not_change_the_stored_one(make: Make) -> None:
    service = Service()
    h = make(service, fail_open=POLICY, retry_config=None)
    h.check(customer_id="cus_1")
    service.up = False
    first = h.check(customer_id="cus_1")
    first.balance.remaining = -1  # type: ignore[union-attr]
    first.allowed = True
    again = h.check(customer_id="cus_1")
    assert (again.allowed, again.balance.remaining) == (False, CHECK_BODY["balance"]["remaining"])  # type: ignore[union-attr]
    assert again.is_fallback


def test_client_errors_still_raise_with_last_known_answers_on(make: Make) -> None:
    answers = iter([json_response(200, DENIED), json_response(404, {"message": "no such customer"})])
    h = make(lambda request: next(answers), fail_open=POLICY, retry_config=None)
    h.check(customer_id="cus_1")
    with pytest.raises(errors.NotFoundError):
        h.check(customer_id="cus_1")


def test_the_store_drops_the_least_recently_used_answer_beyond_its_size() -> None:
    store = LastKnown(max_age=60.0, size=2)
    a, b, c = (("op", name, "f", None) for name in "abc")
    answer = _answer()
    store.remember(a, answer, 0.0)
    store.remember(b, answer, 0.0)
    assert store.recall(a, 1.0) is not None  # a is now the most recently used
    store.remember(c, answer, 2.0)
    assert len(store) == 2
    assert store.recall(b, 3.0) is None
    assert store.recall(a, 3.0) is not None
    assert store.recall(c, 3.0) is not None


def test_the_store_is_shared_safely_by_threads() -> None:
    store = LastKnown(max_age=60.0, size=64)
    answer = _answer()
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5_000):
                key = ("op", f"cus_{(i * 7 + n) % 200}", "f", None)
                store.remember(key, answer, float(i))
                store.recall(("op", f"cus_{(i + n) % 200}", "f", None), float(i))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(store) == 64


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_uses_the_store_even_if_a_parent_thread_held_its_lock() -> None:
    from meterly import Meterly

    service = Service()
    sdk = Meterly(
        api_key="sk_test_k",
        client=httpx.Client(transport=httpx.MockTransport(service)),
        fail_open=POLICY,
        retry_config=None,
    )
    sdk.balances.check(customer_id="cus_1", feature_id="messages")
    store = sdk._pipeline.fail_open.last_known  # type: ignore[union-attr]
    assert store is not None
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store._lock:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    try:

        def child() -> bytes:
            service.up = False
            res = sdk.balances.check(customer_id="cus_1", feature_id="messages")
            return str(res.fallback_reason).encode()

        result = run_in_child(child)
    finally:
        release.set()
        holder.join(5)
    assert result == b"last_known"


def test_a_million_distinct_keys_keep_memory_flat() -> None:
    # In a fresh process, so the RSS readings are this store's alone.
    script = textwrap.dedent(
        """
        import json, os, sys
        from meterly._fail_open import LastKnown
        from meterly.models import CheckResponse

        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

        body = sys.argv[1].encode()
        store = LastKnown(max_age=3600.0, size=1_000)
        for i in range(5_000):  # filled with distinct answers, then some: the bound is reached
            answer = CheckResponse.model_validate_json(body)
            store.remember(("balancesCheck", f"warm_{i}", "messages", None), answer, 0.0)
        answer = CheckResponse.model_validate_json(body)
        start = peak = rss()
        for i in range(1_000_000):
            store.remember(("balancesCheck", f"cus_{i}", "messages", f"seat_{i % 7}"), answer, float(i))
            if i % 50_000 == 0:
                peak = max(peak, rss())
        print(json.dumps({"growth": max(peak, rss()) - start, "size": len(store)}))
        """
    )
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("reads RSS from /proc")
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(CHECK_BODY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["size"] == 1_000
    # Kept without a bound, a million keys and entries would take well over 100 MB.
    assert report["growth"] < 4_000_000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"last_known_max_age_ms": 0},
        {"last_known_max_age_ms": -5},
        {"last_known_max_age_ms": True},
        {"last_known_max_age_ms": float("nan")},
        {"last_known_entries": 0},
        {"last_known_entries": 2.5},
    ],
)
def test_a_bad_last_known_setting_is_refused_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"FailOpenPolicy\.last_known"):
        FailOpenPolicy(**kwargs)  # type: ignore[arg-type]


def _answer() -> Any:
    from meterly.models import CheckResponse

    return CheckResponse.model_validate(CHECK_BODY)
