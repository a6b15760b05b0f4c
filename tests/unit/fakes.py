"""A fake clock and a fake engine that drive the attempt loop with no socket, no thread and no sleep.

The engine answers each request the loop yields with the next item of its script (a `Received`, as
the aiohttp engine answers, or an `httpx.RequestError` thrown in), and "sleeps" by moving the clock.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Generator, List, Mapping, Optional, Union

import httpx

from meterly._attempts import AttemptLoop, Effect
from meterly._config import SDKConfiguration
from meterly._declaration import Operation
from meterly._hooks import Awaiting, SDKHooks
from meterly._options import CallOptions
from meterly._prepare import Preparer
from meterly._wire import TIME_LEFT, Call, Discard, Received
from meterly.balances import BALANCES_CHECK
from meterly.sdk import Meterly
from meterly.types import UNSET
from meterly.utils.retries import RetryConfig
from tests.conftest import API_KEY, CHECK_BODY

Answer = Union[Received, httpx.RequestError]
SERVER = "https://api.meterly.dev"


class FakeClock:
    """Monotonic seconds that move only when the engine sleeps or sends (`latency`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def config(**options: Any) -> SDKConfiguration:
    """A client configuration as `Meterly(**options)` builds it (no connection is opened)."""
    settings: Dict[str, Any] = {"api_key": API_KEY, "server_url": SERVER, **options}
    client = Meterly(**settings)
    client.close()
    return client._config  # pyright: ignore[reportPrivateUsage]


def prepare(
    op: Operation[Any] = BALANCES_CHECK,
    retries: Union[RetryConfig, Any, None] = UNSET,
    options: Optional[CallOptions] = None,
    **arguments: Any,
) -> Call:
    """A prepared call of `op` (balances.check for cus_123 and messages unless told otherwise)."""
    args: Dict[str, Any] = {param.name: None for param in op.params}
    if op is BALANCES_CHECK:
        args.update(customer_id="cus_123", feature_id="messages")
    args.update(arguments)
    return Preparer(config()).prepare(op, args, options=options or CallOptions(retries=retries))


def loop(fail_open: Any = None, hooks: Any = ()) -> tuple[AttemptLoop, FakeClock]:
    """An attempt loop on a fake clock, with no jitter (`random` is always 0.5)."""
    attempts = AttemptLoop(SDKHooks(hooks), fail_open=fail_open)
    clock = FakeClock()
    attempts.clock = clock
    attempts.random = lambda: 0.5
    return attempts, clock


def received(status: int, body: Any = CHECK_BODY, headers: Optional[Mapping[str, str]] = None) -> Received:
    """An answer as an engine read it; `body` is JSON-encoded unless it is bytes."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    return Received(status, content, all_headers, httpx.Request("POST", SERVER))


class FakeEngine:
    """Drives `AttemptLoop.run` as the clients do, answering from a script; records what it was asked."""

    def __init__(self, clock: FakeClock, *script: Answer, latency: float = 0.01) -> None:
        self.clock = clock
        self.script: List[Answer] = list(script)
        self.latency = latency
        self.sent: List[Union[Call, httpx.Request]] = []
        self.time_left: List[Optional[float]] = []
        """The deadline's cut of each attempt, as the engine is told it (None: the attempt's own timeout)."""
        self.sleeps: List[float] = []
        self.discarded: List[Any] = []
        """The responses whose connections the loop had discarded (they answered another request)."""

    def drive(self, steps: Generator[Effect, Any, Any]) -> Any:
        """The call's result; its error is raised, as a client raises it."""
        try:
            effect = next(steps)
            while True:
                if isinstance(effect, float):
                    self.sleeps.append(effect)
                    self.clock.now += effect
                    effect = next(steps)
                    continue
                assert not isinstance(effect, Awaiting)
                if isinstance(effect, Discard):
                    self.discarded.append(effect.response)
                    effect = next(steps)
                    continue
                self.sent.append(effect)
                if isinstance(effect, Call):
                    self.time_left.append(effect.time_left)
                else:
                    self.time_left.append(effect.extensions.get(TIME_LEFT))
                self.clock.now += self.latency
                answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
                throw = isinstance(answer, httpx.RequestError)
                effect = steps.throw(answer) if throw else steps.send(answer)
        except StopIteration as done:
            return done.value


def build_request(call: Call) -> httpx.Request:
    return call.to_request()
