"""Fail-open: what to answer when the service is down, and the circuit breaker that stops asking it.

`FailOpenPolicy` is the user's choice (allow or deny, by default and per feature; when to open the
circuit and for how long). `FailOpen` is one client's state under that policy: one `Circuit` per
operation, each thread-safe. Nothing here runs when fail-open is off.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Literal, Mapping, Optional

if TYPE_CHECKING:  # the models (and pydantic) load on first use, not at import
    from meterly.models._fallback import FallbackReason

__all__ = ["Circuit", "Decision", "FailOpen", "FailOpenPolicy"]

logger = logging.getLogger("meterly")

Decision = Literal["allow", "deny"]


@dataclass(frozen=True)
class FailOpenPolicy:
    """How to answer when the service fails (5xx, connection error, timeout) after retries.

    `default` answers every feature not named in `features` (keyed by `feature_id` for balances.check
    and `feature_code` for usage.check). After `failure_threshold` consecutive failed calls of an
    operation its circuit opens: calls answer the fallback at once, without I/O, for `cooldown_ms`;
    then one probe call goes through, and closes the circuit if the service answers. `failure_threshold`
    None keeps the circuit closed: every call tries the service.
    """

    default: Decision = "allow"
    features: Mapping[str, Decision] = field(default_factory=dict[str, Decision])
    failure_threshold: Optional[int] = 5
    cooldown_ms: int = 30_000

    def __post_init__(self) -> None:
        if self.default not in ("allow", "deny"):
            raise ValueError(f"FailOpenPolicy.default must be 'allow' or 'deny', got {self.default!r}")
        if not isinstance(self.features, Mapping):
            raise ValueError("FailOpenPolicy.features must be a mapping of feature id to 'allow' or 'deny'")
        for feature, decision in self.features.items():
            if not isinstance(feature, str) or decision not in ("allow", "deny"):
                raise ValueError(
                    f"FailOpenPolicy.features[{feature!r}] must be 'allow' or 'deny', got {decision!r}"
                )
        # A private copy: a caller mutating their dict later cannot change a client's policy.
        object.__setattr__(self, "features", dict(self.features))
        threshold = self.failure_threshold
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1
        ):
            raise ValueError(
                f"FailOpenPolicy.failure_threshold must be an int >= 1 or None, got {threshold!r}"
            )
        cooldown = self.cooldown_ms
        if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)) or not cooldown >= 0:
            raise ValueError(f"FailOpenPolicy.cooldown_ms must be a number >= 0, got {cooldown!r}")

    def allows(self, feature: Optional[str]) -> bool:
        """The fallback decision for `feature`: its own rule, else the default."""
        decision = self.features.get(feature, self.default) if feature is not None else self.default
        return decision == "allow"


CLOSED, FAILING, OPEN, HALF_OPEN = "closed", "failing", "open", "half_open"


class Circuit:
    """One operation's breaker: closed (healthy), failing, open (no I/O), half-open (one probe out).

    Each state change logs once: a WARNING when calls start failing and each time the circuit opens,
    an INFO when the service answers again. A flapping service (failure, success, failure...) gets at
    most one "failing" WARNING per cooldown.
    """

    __slots__ = (
        "_failures",
        "_lock",
        "_opened_at",
        "_probe_at",
        "_state",
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
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_at = 0.0
        self._warned = False
        self._warned_at = -math.inf

    def after_fork_in_child(self) -> None:
        """A fresh lock in a forked child (a parent thread may have held this one at fork time)."""
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """`closed`, `failing`, `open` or `half_open`."""
        return self._state

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
        """A call failed after its retries: count it, open the circuit at the threshold, and warn once.

        `answers` says what the fallbacks will be, for the log line.
        """
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
            state, failures = self._state, self._failures
            # A flapping service would warn on every failure after a success: at most once per cooldown.
            quiet = state is FAILING and previous is CLOSED and now - self._warned_at < self.cooldown
            if state is not previous and not quiet:
                self._warned, self._warned_at = True, now
        if state is OPEN and previous is not OPEN:
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
        elif state is FAILING and previous is CLOSED and not quiet:
            logger.warning(
                "%s failed (%s: %s); fail_open answers %s until the service answers again",
                self.operation_id,
                reason,
                error,
                answers,
            )


class FailOpen:
    """One client's fail-open state: the policy and a circuit per operation."""

    __slots__ = ("_circuits", "_lock", "answers", "policy")

    def __init__(self, policy: FailOpenPolicy) -> None:
        self.policy = policy
        self.answers = f"allowed={policy.default == 'allow'}" + (
            " (per-feature rules apply)" if policy.features else ""
        )
        self._circuits: Dict[str, Circuit] = {}
        self._lock = threading.Lock()

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

    def fallback(
        self,
        build: Callable[[Mapping[str, Any], bool], Any],
        args: Mapping[str, Any],
        feature: Optional[str],
        reason: FallbackReason,
    ) -> Any:
        """The made-up answer for a call: allowed or denied by the policy, marked with `reason`."""
        from meterly.models._fallback import mark_fallback

        answer = build(args, self.policy.allows(feature))
        mark_fallback(answer, reason)
        return answer
