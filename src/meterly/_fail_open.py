"""Fail-open: what to answer when the service is down, and the circuit breaker that stops asking it.

`FailOpenPolicy` is the user's choice (allow or deny, by default and per feature; when to open the
circuit and for how long; whether a recent real answer is preferred). `FailOpen` is one client's state
under that policy: one `Circuit` per operation and the `LastKnown` answers, each thread-safe and reset
after a fork. Nothing here runs when fail-open is off.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Mapping, Optional, Set, Tuple, cast

if TYPE_CHECKING:  # the models (and pydantic) load on first use, not at import
    import asyncio

    from meterly.models._fallback import FallbackAware, FallbackReason

__all__ = ["Circuit", "Decision", "FailOpen", "FailOpenPolicy", "LastKnown"]

logger = logging.getLogger("meterly")

Decision = Literal["allow", "deny"]


@dataclass(frozen=True)
class FailOpenPolicy:
    """How to answer when the service fails (5xx, connection error, timeout, a 2xx that is not JSON).

    `default` answers every feature not named in `features` (keyed by `feature_id` for balances.check
    and `feature_code` for usage.check). After `failure_threshold` consecutive failed attempts of an
    operation (across all its concurrent calls) its circuit opens: calls waiting to retry stop waiting,
    and every call answers the fallback at once, without I/O, for `cooldown_ms`; then one probe call
    goes through, and closes the circuit if the service answers. `failure_threshold` None keeps the
    circuit closed: every call tries the service.

    With `last_known_max_age_ms` set, a failed check is answered with the last real answer this client
    saw for the same customer, feature and entity, if it is at most that old
    (`fallback_reason="last_known"`), before the default. At most `last_known_entries` answers are kept
    (least recently used first out). A check that records usage (`send_event=True`) never stores or
    gets one.
    """

    default: Decision = "allow"
    features: Mapping[str, Decision] = field(default_factory=dict[str, Decision])
    failure_threshold: Optional[int] = 5
    cooldown_ms: int = 30_000
    last_known_max_age_ms: Optional[int] = None
    last_known_entries: int = 1_000

    def __post_init__(self) -> None:
        _check_policy(self)

    def allows(self, feature: Optional[str]) -> bool:
        """The fallback decision for `feature`: its own rule, else the default."""
        decision = self.features.get(feature, self.default) if feature is not None else self.default
        return decision == "allow"


def _is_number(value: object, *, above: Optional[float] = None, at_least: Optional[float] = None) -> bool:
    """True for an int or float (not a bool), finite as a float, and above `above` / at least `at_least`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        if not math.isfinite(value):
            return False
    except OverflowError:  # an int too large for a float
        return False
    return (above is None or value > above) and (at_least is None or value >= at_least)


def _check_policy(policy: FailOpenPolicy) -> None:
    """Raises `RequestValidationError` naming the first field of `policy` that is wrong; copies
    `features`, so a caller mutating their dict later cannot change a client's policy."""
    from meterly.errors import RequestValidationError, shown

    if policy.default not in ("allow", "deny"):
        raise RequestValidationError(
            "FailOpenPolicy.default", f"must be 'allow' or 'deny', got {shown(policy.default)}"
        )
    features: object = policy.features
    if not isinstance(features, Mapping):
        raise RequestValidationError(
            "FailOpenPolicy.features", "must be a mapping of feature id to 'allow' or 'deny'"
        )
    for feature, decision in cast("Mapping[object, object]", features).items():
        if not isinstance(feature, str) or decision not in ("allow", "deny"):
            raise RequestValidationError(
                f"FailOpenPolicy.features[{shown(feature)}]",
                f"must be 'allow' or 'deny', got {shown(decision)}",
            )
    object.__setattr__(policy, "features", dict(policy.features))
    threshold = policy.failure_threshold
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1
    ):
        raise RequestValidationError(
            "FailOpenPolicy.failure_threshold", f"must be an int >= 1 or None, got {shown(threshold)}"
        )
    if not _is_number(policy.cooldown_ms, at_least=0):
        raise RequestValidationError(
            "FailOpenPolicy.cooldown_ms", f"must be a finite number >= 0, got {shown(policy.cooldown_ms)}"
        )
    max_age = policy.last_known_max_age_ms
    if max_age is not None and not _is_number(max_age, above=0):
        raise RequestValidationError(
            "FailOpenPolicy.last_known_max_age_ms",
            f"must be a finite number > 0 or None, got {shown(max_age)}",
        )
    entries = policy.last_known_entries
    if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
        raise RequestValidationError(
            "FailOpenPolicy.last_known_entries", f"must be an int >= 1, got {shown(entries)}"
        )


CLOSED, FAILING, OPEN, HALF_OPEN = "closed", "failing", "open", "half_open"


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Circuit:
    """One operation's breaker: closed (healthy), failing, open (no I/O), half-open (one probe out).

    Every failed attempt counts, whichever call made it, so concurrent calls open the circuit together;
    opening it wakes the calls sleeping before a retry (`sleep`, `asleep`), which then answer at once.

    Each state change logs once: a WARNING when calls start answering fallbacks and each time the
    circuit opens, an INFO when the service answers again. A flapping service (failure, success,
    failure...) gets at most one "failing" WARNING per cooldown.
    """

    __slots__ = (
        "_changed",
        "_failures",
        "_lock",
        "_opened_at",
        "_probe_at",
        "_state",
        "_waiters",
        "_warned",
        "_warned_at",
        "cooldown",
        "operation_id",
        "threshold",
    )

    def __init__(self, operation_id: str, threshold: Optional[int], cooldown: float) -> None:
        self.operation_id = operation_id
        self.threshold = threshold
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiters: Set[asyncio.Future[None]] = set()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_at = 0.0
        self._warned = False
        self._warned_at = -math.inf

    def after_fork_in_child(self) -> None:
        """A fresh lock in a forked child (a parent thread may have held this one at fork time); the
        parent's sleepers and event loops are not the child's."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiters = set()

    @property
    def state(self) -> str:
        """`closed`, `failing`, `open` or `half_open`."""
        return self._state

    @property
    def is_open(self) -> bool:
        """True while calls answer the fallback without I/O (open, or half-open with a probe out)."""
        state = self._state
        return state is not CLOSED and state is not FAILING

    def admit(self, now: float) -> bool:
        """True when a call may go to the service now; False: answer the fallback without I/O."""
        state = self._state
        if state is CLOSED or state is FAILING:
            return True
        with self._lock:
            if self._state is OPEN:
                if now - self._opened_at < self.cooldown:
                    return False
                self._state = HALF_OPEN
                self._probe_at = now
                return True
            if self._state is HALF_OPEN:
                # One probe at a time; a probe that never reported back (cancelled) expires after a cooldown.
                if now - self._probe_at < self.cooldown:
                    return False
                self._probe_at = now
                return True
            return True

    def succeeded(self) -> None:
        """The service answered (any real response): close the circuit."""
        if self._state is CLOSED:
            return
        with self._lock:
            previous, self._state, self._failures = self._state, CLOSED, 0
            warned, self._warned = self._warned, False
        if warned or (previous is not CLOSED and previous is not FAILING):
            logger.info("%s: the service answers again; fail-open fallbacks stop", self.operation_id)

    def failed(self, now: float, reason: FallbackReason, error: BaseException, answers: str) -> None:
        """An attempt failed: count it, open the circuit at the threshold (waking the calls that sleep
        before a retry), and warn when it opens. `answers` says what the fallbacks will be, for the log."""
        with self._lock:
            previous = self._state
            self._failures += 1
            threshold = self.threshold
            if previous is not CLOSED and previous is not FAILING:
                self._state = OPEN  # a failed probe (or a call let through while open): another cooldown
                self._opened_at = now
            elif threshold is not None and self._failures >= threshold:
                self._state = OPEN
                self._opened_at = now
            elif previous is CLOSED:
                self._state = FAILING
            opened = self._state is OPEN and previous is not OPEN
            failures = self._failures
            waiters: List[asyncio.Future[None]] = []
            if opened:
                self._warned, self._warned_at = True, now
                self._changed.notify_all()
                waiters, self._waiters = list(self._waiters), set()
        for waiter in waiters:
            with contextlib.suppress(RuntimeError):  # its event loop is closed: nothing waits there now
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
        if opened:
            logger.warning(
                "%s failed (%s: %s); circuit open after %d consecutive failures: fail_open answers %s "
                "without calling the service for %.1f s",
                self.operation_id,
                reason,
                error,
                failures,
                answers,
                self.cooldown,
            )

    def answered_fallback(
        self, now: float, reason: FallbackReason, error: BaseException, answers: str
    ) -> None:
        """A call failed and answers a fallback: warn, unless this outage was already logged (or a
        flapping service was warned about within the last cooldown)."""
        with self._lock:
            if self._warned or now - self._warned_at < self.cooldown:
                return
            self._warned, self._warned_at = True, now
        logger.warning(
            "%s failed (%s: %s); fail_open answers %s until the service answers again",
            self.operation_id,
            reason,
            error,
            answers,
        )

    def sleep(self, seconds: float) -> None:
        """`time.sleep(seconds)`, cut short when the circuit opens."""
        until = time.monotonic() + seconds
        with self._changed:
            while self._state is CLOSED or self._state is FAILING:
                left = until - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    async def asleep(self, seconds: float) -> None:
        """`asyncio.sleep(seconds)`, cut short when the circuit opens (from any thread or event loop)."""
        import asyncio

        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self.is_open:
                return
            self._waiters.add(waiter)
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            with self._lock:
                self._waiters.discard(waiter)


LastKnownKey = Tuple[str, Any, bytes, Any, Any, Any]
"""(operation id, server (scheme, host, port), digest of the credential, customer, feature, entity): an
answer is only ever served again to the same key asking the same server."""


class LastKnown:
    """The last real answer per customer, feature and entity: a thread-safe LRU of at most `size`."""

    __slots__ = ("_entries", "_lock", "max_age", "size")

    def __init__(self, max_age: float, size: int) -> None:
        self.max_age = max_age
        self.size = size
        self._entries: OrderedDict[LastKnownKey, Tuple[float, FallbackAware]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def after_fork_in_child(self) -> None:
        """A fresh lock in a forked child; the answers the parent saw stay good."""
        self._lock = threading.Lock()

    def remember(self, key: LastKnownKey, answer: FallbackAware, now: float) -> None:
        entries = self._entries
        with self._lock:
            entries[key] = (now, answer)
            entries.move_to_end(key)
            if len(entries) > self.size:
                entries.popitem(last=False)

    def recall(self, key: LastKnownKey, now: float) -> Optional[FallbackAware]:
        """A copy of the last answer for `key` if it is recent enough, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now - entry[0] > self.max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return entry[1].model_copy(deep=True)  # the caller may change its copy; the stored one stays


class FailOpen:
    """One client's fail-open state: the policy, a circuit per operation, the last-known answers."""

    __slots__ = ("_circuits", "_lock", "answers", "last_known", "policy")

    def __init__(self, policy: FailOpenPolicy) -> None:
        self.policy = policy
        self.answers = f"allowed={policy.default == 'allow'}" + (
            " (per-feature rules apply)" if policy.features else ""
        )
        self._circuits: Dict[str, Circuit] = {}
        self._lock = threading.Lock()
        max_age = policy.last_known_max_age_ms
        self.last_known = None if max_age is None else LastKnown(max_age / 1000, policy.last_known_entries)

    def circuit(self, operation_id: str) -> Circuit:
        """The circuit of an operation, created on first use."""
        circuit = self._circuits.get(operation_id)
        if circuit is None:
            with self._lock:
                circuit = self._circuits.get(operation_id)
                if circuit is None:
                    policy = self.policy
                    circuit = Circuit(operation_id, policy.failure_threshold, policy.cooldown_ms / 1000)
                    self._circuits[operation_id] = circuit
        return circuit

    def after_fork_in_child(self) -> None:
        """Fresh locks in a forked child (a parent thread may have held one at fork time)."""
        self._lock = threading.Lock()
        for circuit in list(self._circuits.values()):
            circuit.after_fork_in_child()
        if self.last_known is not None:
            self.last_known.after_fork_in_child()

    def fallback(
        self,
        build: Callable[[Mapping[str, Any], bool], Any],
        args: Mapping[str, Any],
        feature: Optional[str],
        reason: FallbackReason,
        last_known: Optional[LastKnownKey] = None,
        now: float = 0.0,
        usage_recorded: Optional[bool] = False,
    ) -> Any:
        """The made-up answer for a call: the last real one for `last_known` when the policy keeps
        them and one is recent enough, else allowed or denied by the policy, marked with its reason and
        `usage_recorded` (False: the call certainly recorded nothing; None: a write may have)."""
        from meterly.models._fallback import mark_fallback

        if last_known is not None and self.last_known is not None:
            answer = self.last_known.recall(last_known, now)
            if answer is not None:
                mark_fallback(answer, "last_known", usage_recorded)
                return answer
        answer = build(args, self.policy.allows(feature))
        mark_fallback(answer, reason, usage_recorded)
        return answer
