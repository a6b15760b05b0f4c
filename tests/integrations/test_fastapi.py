"""`meterly.integrations.fastapi`: the RequireFeature dependency, the lifespan client, and denials.

Apps run against the sandbox: through FastAPI's TestClient and through httpx's ASGI transport.
"""

from typing import Any, Dict, Optional

import httpx
import pytest
from fastapi import Depends, FastAPI, Header
from fastapi.testclient import TestClient
from typing_extensions import Annotated

from meterly import AsyncMeterly, FailOpenPolicy, errors, models
from meterly.integrations.fastapi import FeatureDenied, RequireFeature, get_meterly, meterly_lifespan
from meterly.sandbox import Sandbox, SandboxEngine

SEED = {
    "features": [{"id": "messages", "name": "Messages"}, {"id": "seats_feature", "name": "Seats"}],
    "plans": [
        {"id": "free", "name": "Free", "features": [{"feature_id": "messages", "included": 2}]},
        {"id": "pro", "name": "Pro", "features": [{"feature_id": "messages", "included": 100}]},
    ],
    "customers": [{"id": "user_1", "plans": ["free"]}],
}
pytestmark = pytest.mark.meterly_seed(SEED)


def customer_header(x_customer: Annotated[str, Header()]) -> str:
    return x_customer


def make_app(lifespan: Any, gate: Optional[RequireFeature] = None) -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    gate = gate or RequireFeature("messages", customer=customer_header, send_event=True)

    @app.post("/messages")
    async def send_message(check: Annotated[models.CheckResponse, Depends(gate)]) -> Dict[str, Any]:
        remaining = check.balance.remaining if check.balance is not None else None
        return {"sent": True, "remaining": remaining, "fallback": check.fallback_reason}

    return app


def test_an_allowed_check_reaches_the_endpoint_with_the_typed_answer(
    meterly_async_client: AsyncMeterly, meterly_engine: SandboxEngine
) -> None:
    with TestClient(make_app(meterly_lifespan(meterly_async_client))) as client:
        answer = client.post("/messages", headers={"x-customer": "user_1"})
    assert (answer.status_code, answer.json()) == (200, {"sent": True, "remaining": 1, "fallback": None})
    assert meterly_engine.balance("user_1", "messages")["usage"] == 1  # type: ignore[index]  # send_event recorded it


def test_a_denial_answers_402_with_the_paywall_preview(meterly_async_client: AsyncMeterly) -> None:
    with TestClient(make_app(meterly_lifespan(meterly_async_client))) as client:
        statuses = [client.post("/messages", headers={"x-customer": "user_1"}).status_code for _ in range(2)]
        denied = client.post("/messages", headers={"x-customer": "user_1"})
    assert statuses == [200, 200]
    assert denied.status_code == 402
    detail = denied.json()["detail"]
    assert detail["code"] == "feature_not_allowed"
    assert detail["fallback_reason"] is None
    assert detail["preview"]["title"] == "Messages limit reached"
    assert [product["id"] for product in detail["preview"]["products"]] == ["pro"]


def test_the_denial_status_and_body_are_configurable(meterly_async_client: AsyncMeterly) -> None:
    gate = RequireFeature(
        "messages",
        customer=customer_header,
        required_balance=5,
        status_code=403,
        denied_body=lambda result: {"upgrade": result.preview.title if result.preview else None},
    )
    with TestClient(make_app(meterly_lifespan(meterly_async_client), gate)) as client:
        answer = client.post("/messages", headers={"x-customer": "user_1"})
    assert (answer.status_code, answer.json()) == (403, {"detail": {"upgrade": "Messages limit reached"}})


def test_an_exception_handler_can_render_the_denial_itself(meterly_async_client: AsyncMeterly) -> None:
    from fastapi.responses import PlainTextResponse

    app = make_app(
        meterly_lifespan(meterly_async_client), RequireFeature("seats_feature", customer=customer_header)
    )

    @app.exception_handler(FeatureDenied)
    async def paywall(request: Any, exc: FeatureDenied) -> PlainTextResponse:
        return PlainTextResponse(
            f"upgrade to use {exc.result.customer_id}'s seats", status_code=exc.status_code
        )

    with TestClient(app) as client:
        answer = client.post("/messages", headers={"x-customer": "user_1"})
    assert (answer.status_code, answer.text) == (402, "upgrade to use user_1's seats")


def test_the_lifespan_builds_one_client_and_closes_it(meterly_server: Sandbox) -> None:
    app = make_app(meterly_lifespan(server_url=meterly_server.url, api_key=meterly_server.api_key))
    seen = []

    @app.get("/client")
    async def which(meterly: Annotated[AsyncMeterly, Depends(get_meterly)]) -> int:
        seen.append(meterly)
        return 0

    with TestClient(app) as client:
        client.get("/client")
        assert client.post("/messages", headers={"x-customer": "user_1"}).status_code == 200
        client.get("/client")
    assert seen[0] is seen[1]
    assert isinstance(seen[0], AsyncMeterly)
    with pytest.raises(RuntimeError, match="closed"):
        seen[0]._check_open()
    assert not hasattr(app.state, "meterly")


def test_a_client_given_to_the_lifespan_is_left_open(meterly_async_client: AsyncMeterly) -> None:
    with TestClient(make_app(meterly_lifespan(meterly_async_client))) as client:
        client.post("/messages", headers={"x-customer": "user_1"})
    meterly_async_client._check_open()


def test_fail_open_answers_pass_through_marked(meterly_server: Sandbox) -> None:
    meterly_server.engine.faults.outage = True
    lifespan = meterly_lifespan(
        server_url=meterly_server.url, api_key=meterly_server.api_key, fail_open=True, retry_config=None
    )
    with TestClient(make_app(lifespan)) as client:
        answer = client.post("/messages", headers={"x-customer": "user_1"})
    assert (answer.status_code, answer.json()) == (
        200,
        {"sent": True, "remaining": None, "fallback": "server_error"},
    )


def test_a_fail_open_denial_says_it_is_a_fallback(meterly_server: Sandbox) -> None:
    meterly_server.engine.faults.outage = True
    policy = FailOpenPolicy(default="deny")
    lifespan = meterly_lifespan(
        server_url=meterly_server.url, api_key=meterly_server.api_key, fail_open=policy, retry_config=None
    )
    with TestClient(make_app(lifespan)) as client:
        answer = client.post("/messages", headers={"x-customer": "user_1"})
    assert answer.status_code == 402
    assert answer.json()["detail"]["fallback_reason"] == "server_error"
    assert answer.json()["detail"]["preview"] is None


def test_service_errors_are_not_denials(meterly_async_client: AsyncMeterly) -> None:
    with (
        TestClient(make_app(meterly_lifespan(meterly_async_client))) as client,
        pytest.raises(errors.NotFoundError),
    ):
        client.post("/messages", headers={"x-customer": "nobody"})


def test_an_entity_dependency_scopes_the_check(
    meterly_async_client: AsyncMeterly, meterly_engine: SandboxEngine
) -> None:
    meterly_engine.add_customer("team_1", plans=["free"]).add_entity("team_1", "seat_a")

    def seat(x_seat: Annotated[str, Header()]) -> str:
        return x_seat

    gate = RequireFeature("messages", customer=customer_header, entity=seat)
    app = FastAPI(lifespan=meterly_lifespan(meterly_async_client))

    @app.get("/seat")
    async def which_seat(check: Annotated[models.CheckResponse, Depends(gate)]) -> Any:
        return check.entity_id

    with TestClient(app) as client:
        answer = client.get("/seat", headers={"x-customer": "team_1", "x-seat": "seat_a"})
    assert (answer.status_code, answer.json()) == (200, "seat_a")


def test_without_a_lifespan_the_error_says_how_to_add_one() -> None:
    app = make_app(None)
    with TestClient(app) as client, pytest.raises(RuntimeError, match="meterly_lifespan"):
        client.post("/messages", headers={"x-customer": "user_1"})


async def test_over_httpx_asgi_transport_with_the_client_overridden(
    meterly_async_client: AsyncMeterly,
) -> None:
    app = make_app(None)
    app.dependency_overrides[get_meterly] = lambda: meterly_async_client
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        answers = [await client.post("/messages", headers={"x-customer": "user_1"}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 402]
    assert answers[2].json()["detail"]["preview"]["scenario"] == "usage_limit"


async def test_over_httpx_asgi_transport_inside_the_apps_lifespan(meterly_server: Sandbox) -> None:
    app = make_app(meterly_lifespan(server_url=meterly_server.url, api_key=meterly_server.api_key))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app.test") as client,
    ):
        answer = await client.post("/messages", headers={"x-customer": "user_1"})
    assert answer.json() == {"sent": True, "remaining": 1, "fallback": None}


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"feature_id": ""}, "feature_id"),
        ({"status_code": 42}, "status_code"),
        ({"status_code": True}, "status_code"),
        ({"customer": "user_1"}, "customer"),
        ({"denied_body": {"a": 1}}, "denied_body"),
        ({"required_balance": "5"}, "required_balance"),
        ({"required_balance": float("inf")}, "required_balance"),
        ({"send_event": "yes"}, "send_event"),
        ({"with_preview": "no"}, "with_preview"),
        ({"properties": ["plan", "pro"]}, "properties"),
        ({"properties": {1: "pro"}}, "properties"),
        ({"entity": "seat_1"}, "entity"),
        ({"feature_id": "mess\nages"}, "feature_id"),
    ],
)
def test_bad_gate_arguments_fail_when_the_app_is_defined(kwargs: Dict[str, Any], param: str) -> None:
    arguments: Dict[str, Any] = {"feature_id": "messages", "customer": customer_header, **kwargs}
    with pytest.raises(errors.RequestValidationError) as caught:
        RequireFeature(arguments.pop("feature_id"), **arguments)
    assert caught.value.param == param


def test_the_lifespan_takes_a_client_or_keywords_not_both(meterly_async_client: AsyncMeterly) -> None:
    with pytest.raises(TypeError):
        meterly_lifespan(meterly_async_client, fail_open=True)
    with pytest.raises(TypeError):
        meterly_lifespan("not a client")  # type: ignore[arg-type]


def test_the_lifespan_takes_exactly_asyncmeterlys_keywords() -> None:
    import inspect

    from meterly._keywords import AsyncMeterlyKeywords

    parameters = inspect.signature(AsyncMeterly.__init__).parameters.values()
    constructor = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(AsyncMeterlyKeywords.__annotations__) == constructor


def test_a_misspelt_lifespan_keyword_is_refused_when_the_app_is_defined() -> None:
    with pytest.raises(TypeError, match="fail_opne"):
        meterly_lifespan(fail_opne=True)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


async def test_the_lifespan_builds_its_client_from_the_keywords(meterly_server: Sandbox) -> None:
    app = make_app(
        meterly_lifespan(server_url=meterly_server.url, api_key=meterly_server.api_key, max_retries=0)
    )
    async with app.router.lifespan_context(app):
        client = app.state.meterly
        assert isinstance(client, AsyncMeterly)
        assert client.server_url == meterly_server.url
    assert not hasattr(app.state, "meterly")


@pytest.fixture
def outbox_server(meterly_server: Sandbox) -> Sandbox:
    """`meterly_server` with user_1 on the pro plan too, so every queued event fits its balance."""
    meterly_server.engine.attach_plan("user_1", "pro")
    return meterly_server


def _usage(server: Sandbox) -> float:
    balance = server.engine.balance("user_1", "messages")
    assert balance is not None
    return float(balance["usage"])


def test_the_lifespan_delivers_the_outbox_when_the_app_stops(outbox_server: Sandbox) -> None:
    app = make_app(meterly_lifespan(server_url=outbox_server.url, api_key=outbox_server.api_key, outbox=True))

    @app.post("/work")
    async def work(meterly: Annotated[AsyncMeterly, Depends(get_meterly)]) -> str:
        return meterly.outbox.usage.track(customer_id="user_1", feature_code="messages").idempotency_key

    outbox_server.engine.faults.outage = True  # nothing can be delivered while the app runs
    with TestClient(app) as client:
        keys = {client.post("/work").json() for _ in range(3)}
        outbox = app.state.meterly.outbox
        outbox_server.engine.faults.outage = False
    assert len(keys) == 3
    assert outbox.closed
    assert _usage(outbox_server) == 3


def test_the_lifespan_flushes_the_outbox_of_a_client_it_was_given_and_leaves_it_open(
    outbox_server: Sandbox,
) -> None:
    sdk = AsyncMeterly(server_url=outbox_server.url, api_key=outbox_server.api_key, outbox=True)
    app = make_app(meterly_lifespan(sdk))

    @app.post("/work")
    async def work(meterly: Annotated[AsyncMeterly, Depends(get_meterly)]) -> None:
        meterly.outbox.usage.track(customer_id="user_1", feature_code="messages", value=2)

    outbox_server.engine.faults.outage = True
    with TestClient(app) as client:
        client.post("/work")
        outbox_server.engine.faults.outage = False
    assert _usage(outbox_server) == 2
    assert not sdk.outbox.closed
    assert sdk.outbox.pending() == 0


def test_the_lifespan_starts_the_outbox_so_a_durable_files_leftovers_go_out(
    outbox_server: Sandbox, tmp_path: Any
) -> None:
    import time

    from meterly import Meterly, Outbox

    path = str(tmp_path / "outbox.sqlite3")
    outbox_server.engine.faults.outage = True
    earlier = Meterly(
        server_url=outbox_server.url,
        api_key=outbox_server.api_key,
        outbox=Outbox(path=path, close_timeout_ms=0),
    )
    for _ in range(4):
        earlier.outbox.usage.track(customer_id="user_1", feature_code="messages")
    earlier.close()  # an earlier process: its events stay in the file
    outbox_server.engine.faults.outage = False
    lifespan = meterly_lifespan(
        server_url=outbox_server.url, api_key=outbox_server.api_key, outbox=Outbox(path=path)
    )
    with TestClient(make_app(lifespan)):
        deadline = time.monotonic() + 10
        while _usage(outbox_server) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)  # no event is queued in this app: only the started sender delivers them
        assert _usage(outbox_server) == 4
