"""The sandbox served on a real socket with a ledger of every write it answered, and a driver that runs
the same calls on each engine (`ENGINES`: every engine of both clients, with its own pool and with an
injected client), timing and keeping every outcome.

The ledger is the truth the integrity tests compare the SDK's reports with: a write is identified by
its Idempotency-Key (every test passes its own), and it was recorded once per 2xx answer the sandbox
gave without replaying a stored one."""

from __future__ import annotations

import asyncio
import copy
import importlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

from meterly import AsyncMeterly, Meterly, errors
from meterly._engines.seam import NEEDS_PYTHON_311
from meterly.sandbox import DEMO_SEED, Sandbox, SandboxEngine, SandboxResponse

ENGINE_SPECS: dict[str, tuple[bool, str, bool]] = {
    # name: (async client, http_backend, injected client)
    "sync": (False, "httpx", False),
    "httpx-async": (True, "httpx", False),
    "aiohttp": (True, "aiohttp", False),
    "httpx2-sync": (False, "httpx2", False),
    "httpx2-async": (True, "httpx2", False),
    "pyreqwest-sync": (False, "pyreqwest", False),
    "pyreqwest-async": (True, "pyreqwest", False),
    "httpx-sync-injected": (False, "httpx", True),
    "httpx-async-injected": (True, "httpx", True),
    "httpx2-sync-injected": (False, "httpx2", True),
    "httpx2-async-injected": (True, "httpx2", True),
    "aiohttp-injected": (True, "aiohttp", True),
}
"""Every engine the suites run over (pyreqwest takes no injected client)."""
ENGINES = tuple(
    name
    for name, (_, backend, _) in ENGINE_SPECS.items()
    if sys.version_info >= (3, 11) or backend not in NEEDS_PYTHON_311
)
"""The engines of `ENGINE_SPECS` this Python can run: on 3.10 (the oldest the core supports) httpx2's and
pyreqwest's extras do not install, so their runs are left out there; anywhere else a missing one fails."""
API_KEY = "sk_test_sandbox"

# The demo data plus customers whose answers differ (a check for one must never get the other's) and
# one with room for thousands of writes.
SEED: dict[str, Any] = copy.deepcopy(DEMO_SEED)
SEED["plans"].append(
    {"id": "bulk", "name": "Bulk", "features": [{"feature_id": "messages", "included": 10_000_000}]}
)
SEED["customers"] += [
    {"id": "cus_poor", "name": "Poor Paul", "plans": ["free"], "usage": {"messages": 5}},
    {"id": "cus_rich", "name": "Rich Rita", "plans": ["pro"]},
    {"id": "cus_bulk", "name": "Bulk Bea", "plans": ["bulk"]},
]
WRITE_PATHS = {"/v1/usage/events": "usageTrack", "/v1/balances.check": "balancesCheck"}
"""The routes that may record usage (also served under `/api`, Commet's prefix), by operation id;
balances.check only with `send_event`."""
EXPECTED_ALLOWED = {"cus_poor": False, "cus_rich": True, "cus_free": True, "cus_pro": True}
"""What a read-only `balances.check(feature_id="messages")` answers for each customer of SEED."""


@dataclass(frozen=True)
class Write:
    """One 2xx answer the sandbox gave to a write."""

    operation_id: str
    idempotency_key: Optional[str]
    body: Mapping[str, Any]
    replayed: bool


class LedgerEngine(SandboxEngine):
    """A sandbox engine that also keeps, unbounded, every write it answered (its `history` keeps 1,000)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writes: list[Write] = []
        self._ledger_lock = threading.Lock()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        response = super().handle(method, path, headers, body)
        route = path.split("?", 1)[0].rstrip("/").removeprefix("/api")
        operation_id = WRITE_PATHS.get(route)
        if operation_id is None or not 200 <= response.status < 300:
            return response
        try:
            parsed = json.loads(body)
        except ValueError:
            return response
        if operation_id == "balancesCheck" and not parsed.get("send_event"):
            return response  # a read
        lower = {k.lower(): v for k, v in headers.items()}
        write = Write(
            operation_id,
            lower.get("idempotency-key"),
            parsed,
            response.headers.get("idempotent-replayed") == "true",
        )
        with self._ledger_lock:
            self.writes.append(write)
        return response

    def recorded(self) -> Counter[Optional[str]]:
        """How many times each Idempotency-Key's write was recorded (replays do not count)."""
        with self._ledger_lock:
            return Counter(w.idempotency_key for w in self.writes if not w.replayed)

    def arrived(self) -> Counter[Optional[str]]:
        """How many times each Idempotency-Key's write was answered, replays included: more than once
        means it reached the service more than once (a double count where the service does not dedup)."""
        with self._ledger_lock:
            return Counter(w.idempotency_key for w in self.writes)

    def times_recorded(self, key: str) -> int:
        return self.recorded()[key]


@contextmanager
def served(seed: Optional[Mapping[str, Any]] = None, **engine_kwargs: Any) -> Generator[Sandbox, None, None]:
    """A fresh LedgerEngine on SEED (or `seed`), served on a free loopback port for the block."""
    engine = LedgerEngine.from_seed(seed or SEED, **engine_kwargs)
    with Sandbox(engine) as sandbox:
        yield sandbox


def ledger(sandbox: Sandbox) -> LedgerEngine:
    engine = sandbox.engine
    assert isinstance(engine, LedgerEngine)
    return engine


Call = tuple[str, dict[str, Any]]
"""An SDK call: `("balances.check", {...kwargs})`."""


@dataclass
class Outcome:
    """What one call gave: its result or its error, and how long it held the caller."""

    call: Call
    result: Any = None
    error: Optional[BaseException] = None
    seconds: float = 0.0


def _target(client: Any, sdk_call: str) -> Any:
    target = client
    for name in sdk_call.split("."):
        target = getattr(target, name)
    return target


def is_sync(engine: str) -> bool:
    """Whether `engine` is one of `Meterly`'s (else `AsyncMeterly`'s)."""
    return not ENGINE_SPECS[engine][0]


def injected_client(backend: str, is_async: bool) -> Any:
    """A client of `backend`'s own kind, as a user would pass it in (build async ones in a loop)."""
    if backend == "aiohttp":
        import aiohttp

        return aiohttp.ClientSession()
    module: Any = importlib.import_module(backend)
    return module.AsyncClient() if is_async else module.Client()


class _OwningMeterly(Meterly):
    """A Meterly over an injected client that, as the client's owner would, closes it with itself."""

    injected: Any = None

    def close(self) -> None:
        super().close()
        self.injected.close()


class _OwningAsyncMeterly(AsyncMeterly):
    """`_OwningMeterly` for AsyncMeterly."""

    injected: Any = None

    async def aclose(self) -> None:
        await super().aclose()
        close = self.injected.close if hasattr(self.injected, "closed") else self.injected.aclose
        await close()


def make_client(engine: str, **kwargs: Any) -> Any:
    """A Meterly or AsyncMeterly of `engine` (see `ENGINE_SPECS`); build async ones in a loop. An
    injected client is closed when the SDK's client is, by the harness as its owner."""
    kwargs.setdefault("api_key", API_KEY)
    is_async, backend, injected = ENGINE_SPECS[engine]
    if not injected:
        return (AsyncMeterly if is_async else Meterly)(http_backend=backend, **kwargs)
    client = injected_client(backend, is_async)
    sdk: Any = (_OwningAsyncMeterly if is_async else _OwningMeterly)(client=client, **kwargs)
    sdk.injected = client
    return sdk


def run_calls(
    engine: str, calls: Sequence[Call], *, concurrency: int = 1, **client_kwargs: Any
) -> list[Outcome]:
    """Run `calls` on one new client of `engine`, at most `concurrency` at a time (1: in order, one
    kept-alive connection), and give each call's outcome in the order of `calls`. Only a MeterlyError
    is an expected error; anything else is kept too, so a test can say that it escaped."""
    outcomes = [Outcome(call) for call in calls]

    if is_sync(engine):
        client = make_client(engine, **client_kwargs)

        def one_sync(outcome: Outcome) -> None:
            started = time.monotonic()
            try:
                outcome.result = _target(client, outcome.call[0])(**outcome.call[1])
            except Exception as exc:
                outcome.error = exc
            outcome.seconds = time.monotonic() - started

        with client:
            if concurrency == 1:
                for outcome in outcomes:
                    one_sync(outcome)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(concurrency) as pool:
                    list(pool.map(one_sync, outcomes))
        return outcomes

    async def main() -> None:
        client = make_client(engine, **client_kwargs)
        gate = asyncio.Semaphore(concurrency)

        async def one(outcome: Outcome) -> None:
            async with gate:
                started = time.monotonic()
                try:
                    outcome.result = await _target(client, outcome.call[0])(**outcome.call[1])
                except Exception as exc:
                    outcome.error = exc
                outcome.seconds = time.monotonic() - started

        async with client:
            if concurrency == 1:
                for outcome in outcomes:
                    await one(outcome)
            else:
                await asyncio.gather(*(one(o) for o in outcomes))

    asyncio.run(main())
    return outcomes


def escaped(outcomes: Sequence[Outcome]) -> list[BaseException]:
    """Errors that are not MeterlyErrors (they must never reach a user)."""
    return [o.error for o in outcomes if o.error is not None and not isinstance(o.error, errors.MeterlyError)]


def write_outcome_unknown() -> type[BaseException]:
    """`errors.WriteOutcomeUnknownError`, or a class nothing raises while it does not exist yet."""

    class NotYetDefined(Exception):
        pass

    found = getattr(errors, "WriteOutcomeUnknownError", None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else NotYetDefined
