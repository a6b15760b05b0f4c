"""`SandboxEngine`: a `World` behind the services' HTTP contracts, answering every operation of the
registry as the service it belongs to would."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Tuple, Union, cast
from urllib.parse import parse_qsl

from meterly._declaration import API_KEY_AUTH, Operation, SecurityScheme
from meterly._registry import OPERATIONS
from meterly.sandbox._clock import SandboxClock
from meterly.sandbox._faults import Faults
from meterly.sandbox._http import (
    INVALID,
    MAX_IDEMPOTENCY_KEY,
    ProtocolError,
    SandboxResponse,
    Service,
    fingerprint,
    json_response,
    new_request_id,
    parse_body,
    presented_key,
    scheme_hint,
)
from meterly.sandbox._idempotency import IdempotencyStore, honours_idempotency_key
from meterly.sandbox._routes import ROUTES, UNROUTED, service_of
from meterly.sandbox._seed import DEMO_SEED, apply_seed, read_seed
from meterly.sandbox._state import PriceRule
from meterly.sandbox._world import World
from meterly.sandbox.operations import Handler, Reply, handler
from meterly.sandbox.services import commet, commet_routes

DEFAULT_API_KEY = "sk_test_sandbox"
"""The key every sandbox accepts unless it was given others."""

COMMET_API_KEY = "ck_test_sandbox"
"""A key in Commet's format (its official client refuses keys without `ck_` or `rk_`), accepted beside
`DEFAULT_API_KEY` unless the sandbox was given other keys."""

HISTORY_SIZE = 1_000

Seed = Union[Mapping[str, Any], str, Path]


@dataclass(frozen=True)
class SandboxCall:
    """One request the engine answered, as kept in `engine.history` (never with its API key)."""

    operation_id: Optional[str]
    path: str
    status: int
    request_id: str
    body: Any
    """The request's JSON (an object; an array for batch_track), None when it was not read."""
    idempotency_key: Optional[str]
    replayed: bool = False
    dropped: bool = False


class SandboxEngine(World):
    """Customers, features, plans and balances in memory, behind the same HTTP contract as Meterly.

    Thread-safe: one lock serializes every request and every change, so a `send_event` deduction is
    atomic. Build one with the methods below (each returns the engine, so calls chain), from a seed
    (`from_seed`), or take the demo data (`demo`).

    Attributes:
        clock: The engine's `SandboxClock`; `engine.clock.advance(seconds)` moves it (resets included).
        faults: The engine's `Faults`: latency, error rate, outage, `fail_next(n)`, `drop_next(n)`.
        history: The last 1,000 requests answered, oldest first, as `SandboxCall`s (never with a key).
        features, plans, customers: What the engine holds, by id.
        handlers: How each operation is answered, by operation id (`meterly.sandbox.operations`).

        engine = SandboxEngine.demo()
        engine.clock.advance(32 * 24 * 3600)
        engine.faults.fail_next(1)
        print(engine.history[-1].status if engine.history else "no request yet")
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (DEFAULT_API_KEY, COMMET_API_KEY),
        clock: Optional[SandboxClock] = None,
        faults: Optional[Faults] = None,
    ) -> None:
        super().__init__(clock)
        self.faults = faults or Faults()
        self.history: Deque[SandboxCall] = deque(maxlen=HISTORY_SIZE)
        self.handlers: Dict[str, Handler] = {op.operation_id: handler(op) for op in OPERATIONS}
        self._api_keys = {key for key in api_keys}
        self._idempotency = IdempotencyStore()

    def __repr__(self) -> str:
        return (
            f"SandboxEngine(customers={len(self.customers)}, features={len(self.features)}, "
            f"plans={len(self.plans)})"
        )

    # -- construction -----------------------------------------------------------------------------

    @classmethod
    def demo(cls, **kwargs: Any) -> SandboxEngine:
        """An engine holding the demo customers, features and plans (see `meterly.sandbox.DEMO_SEED`).

        `kwargs` go to the constructor (`api_keys`, `clock`, `faults`).

            engine = SandboxEngine.demo()
            engine.balance("cus_free", "messages")  # granted 5, usage 3
        """
        return cls.from_seed(DEMO_SEED, **kwargs)

    @classmethod
    def from_seed(cls, data: Seed, **kwargs: Any) -> SandboxEngine:
        """An engine built from a seed: a dict, or the path of a JSON file holding one.

        The seed's `api_keys` and `clock` apply unless `kwargs` give their own; an unknown key in the
        seed is a ValueError (`python -m meterly.sandbox --print-demo-seed` shows the format).

            engine = SandboxEngine.from_seed("seed.json")
        """
        seed = read_seed(data)
        if "api_keys" in seed:
            kwargs.setdefault("api_keys", seed["api_keys"])
        if "clock" in seed:
            clock = seed["clock"]
            start = None if clock.get("now_ms") is None else clock["now_ms"] / 1000
            kwargs.setdefault("clock", SandboxClock(start, frozen=bool(clock.get("frozen", False))))
        engine = cls(**kwargs)
        apply_seed(engine, seed)
        return engine

    @property
    def api_keys(self) -> List[str]:
        """The keys this sandbox accepts, for either auth scheme."""
        return sorted(self._api_keys)

    def add_api_key(self, key: str) -> SandboxEngine:
        """Accept `key` too."""
        if not isinstance(key, str) or not key:
            raise ValueError("an API key must be a non-empty string")
        with self.lock:
            self._api_keys.add(key)
        return self

    # -- the HTTP contract --------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        """Answer one HTTP request (header names in any case) as Meterly would."""
        request_id = new_request_id()
        lower = {k.lower(): v for k, v in headers.items()}
        route, _, query = path.partition("?")
        route = route.rstrip("/") or "/"
        operation = ROUTES.get(route)
        extra_route = None if operation is not None else commet_routes.match(route)
        with self.lock:
            recorded: Dict[str, Any] = {"body": None, "key": lower.get("idempotency-key"), "replayed": False}
            try:
                if extra_route is not None:
                    response = self._dispatch_extra(
                        extra_route, method.upper(), lower, body, query, request_id, recorded
                    )
                else:
                    response = self._dispatch(operation, method.upper(), lower, body, request_id, recorded)
            except ProtocolError as error:
                service = (
                    commet.SERVICE
                    if extra_route is not None
                    else UNROUTED
                    if operation is None
                    else service_of(operation)
                )
                extra = dict(error.headers)
                if error.status == 405:
                    extra["allow"] = error.headers.get("allow", "POST")
                response = json_response(error.status, service.error_body(error), request_id, extra)
            if response.status < 500 and self.faults.take_drop():
                response = SandboxResponse(response.status, response.headers, response.body, drop=True)
            self.history.append(
                SandboxCall(
                    None if operation is None else operation.operation_id,
                    route,
                    response.status,
                    request_id,
                    recorded["body"],
                    recorded["key"],
                    recorded["replayed"],
                    response.drop,
                )
            )
            return response

    def _dispatch(
        self,
        operation: Optional[Operation[Any]],
        method: str,
        headers: Dict[str, str],
        raw: bytes,
        request_id: str,
        recorded: Dict[str, Any],
    ) -> SandboxResponse:
        # A wrong path is diagnosed even during a simulated outage: the fault is the service's, the
        # route the caller's.
        answering = None if operation is None else self.handlers.get(operation.operation_id)
        if operation is None or answering is None:
            raise ProtocolError(404, "route_not_found", "no such route: check the server URL")
        service = service_of(operation)
        self._fail_if_told(service)
        if method != operation.method:
            raise ProtocolError(
                405, "method_not_allowed", f"{method} is not allowed here; use {operation.method}"
            )
        self._authenticate(operation.security, service, headers)
        if operation.operation_id == "balancesCheck" and self.faults.degraded:
            return self._degraded_check(headers, raw, request_id, recorded)
        idempotency_key = headers.get("idempotency-key") if honours_idempotency_key(operation) else None
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise ProtocolError(
                400,
                INVALID,
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                "Idempotency-Key",
            )
        body = parse_body(raw)
        recorded["body"] = body
        now = self.clock.now_ms()
        slot = print_ = None
        if idempotency_key is not None:
            slot, print_ = (operation.operation_id, idempotency_key), fingerprint(body)
            first = self._idempotency.replay(slot, print_, now)
            if first is not None:
                recorded["replayed"] = True
                headers_out = {**first.headers, "x-request-id": request_id, "idempotent-replayed": "true"}
                return SandboxResponse(first.status, headers_out, first.body)
        answer = answering.handle(self, answering.parse(body))
        status, data = (answer.status, answer.body) if isinstance(answer, Reply) else (200, answer)
        data = service.in_version(data, headers.get("x-api-version"))
        response = json_response(status, service.success(data), request_id)
        if slot is not None and print_ is not None:
            self._idempotency.keep(slot, print_, response, now)
        return response

    def _fail_if_told(self, service: Service) -> None:
        """Answers with the failure `faults` asks for, in `service`'s words (a 429 with its code and a
        `Retry-After`)."""
        if not self.faults.take_failure():
            return
        status = self.faults.error_status
        if status == 429:
            retry_after = self.faults.retry_after_s
            text = str(int(retry_after)) if retry_after == int(retry_after) else str(retry_after)
            raise ProtocolError(
                429,
                service.rate_limited_code,
                "the sandbox is simulating a rate limit",
                headers={"retry-after": text},
            )
        raise ProtocolError(
            status,
            "service_unavailable" if status == 503 else "internal_error",
            "the sandbox is simulating a failure",
        )

    def _authenticate(self, scheme: SecurityScheme, service: Service, headers: Dict[str, str]) -> None:
        key = presented_key(scheme, headers)
        if key is None or key not in self._api_keys:
            hint = scheme_hint(scheme)
            raise ProtocolError(
                401, service.unauthorized_code(key), f"missing or invalid API key; send {hint}"
            )

    def _degraded_check(
        self, headers: Dict[str, str], raw: bytes, request_id: str, recorded: Dict[str, Any]
    ) -> SandboxResponse:
        """Autumn's own fail-open while degraded: 202, allowed, no balance read and nothing recorded."""
        parsed = parse_body(raw)
        recorded["body"] = parsed
        body: Dict[str, Any] = cast(Dict[str, Any], parsed) if isinstance(parsed, dict) else {}
        if not isinstance(body.get("customer_id"), str):
            raise ProtocolError(400, INVALID, "customer_id is required", "customer_id")
        answer: Dict[str, Any] = {"allowed": True, "customer_id": body["customer_id"]}
        for key in ("entity_id", "required_balance"):
            if key in body:
                answer[key] = body[key]
        answer.update(balance=None, flag=None)
        return json_response(202, answer, request_id)

    def _dispatch_extra(
        self,
        found: Tuple[commet_routes.Route, Dict[str, str]],
        method: str,
        headers: Dict[str, str],
        raw: bytes,
        query: str,
        request_id: str,
        recorded: Dict[str, Any],
    ) -> SandboxResponse:
        """A route of Commet's that the SDK has no operation for (feature access, usage.set)."""
        route, params = found
        service = commet.SERVICE
        self._fail_if_told(service)
        answering = route.handlers.get(method)
        if answering is None:
            allowed = ", ".join(sorted(route.handlers))
            raise ProtocolError(
                405,
                "method_not_allowed",
                f"{method} is not allowed here; use {allowed}",
                headers={"allow": allowed},
            )
        self._authenticate(API_KEY_AUTH, service, headers)
        body: Dict[str, Any] = {}
        if method != "GET":
            parsed = parse_body(raw)
            if not isinstance(parsed, dict):
                raise ProtocolError(400, INVALID, "the request body must be a JSON object")
            body = cast(Dict[str, Any], parsed)
        recorded["body"] = body
        arguments = {**{k: v for k, v in parse_qsl(query)}, **params, **body}
        idempotency_key = headers.get("idempotency-key") if method != "GET" else None
        slot = print_ = None
        now = self.clock.now_ms()
        if idempotency_key is not None:
            slot, print_ = (route.name + " " + method, idempotency_key), fingerprint(arguments)
            first = self._idempotency.replay(slot, print_, now)
            if first is not None:
                recorded["replayed"] = True
                headers_out = {**first.headers, "x-request-id": request_id, "idempotent-replayed": "true"}
                return SandboxResponse(first.status, headers_out, first.body)
        response = json_response(200, service.success(answering(self, arguments)), request_id)
        if slot is not None and print_ is not None:
            self._idempotency.keep(slot, print_, response, now)
        return response


__all__ = ["DEFAULT_API_KEY", "PriceRule", "SandboxCall", "SandboxEngine", "Seed"]
