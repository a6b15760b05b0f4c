"""`meterly.integrations.flask`: the require_feature decorator, the MeterlyFlask extension, and denials.

The app is a real Flask app served by a real WSGI server (waitress, threaded, on 127.0.0.1), its client
configured from `app.config["METERLY"]` and pointed at a served sandbox (`meterly_server`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Dict, Optional

import httpx
import pytest
import waitress
from flask import Flask, g, jsonify, request
from waitress.wasyncore import close_all

from meterly import FailOpenPolicy, Meterly, errors
from meterly.integrations.flask import (
    KEYWORDS,
    FeatureDenied,
    MeterlyFlask,
    feature_check,
    get_client,
    get_outbox,
    require_feature,
)
from meterly.sandbox import Sandbox

SEED = {
    "features": [{"id": "messages", "name": "Messages"}],
    "plans": [
        {"id": "free", "name": "Free", "features": [{"feature_id": "messages", "included": 2}]},
        {"id": "pro", "name": "Pro", "features": [{"feature_id": "messages", "included": 1000}]},
    ],
    "customers": [{"id": "user_1", "plans": ["free"]}, {"id": "user_pro", "plans": ["pro"]}],
}
pytestmark = pytest.mark.meterly_seed(SEED)


def current_customer() -> str:
    return request.headers["x-customer"]


meterly_ext = MeterlyFlask()


def create_app(config: Dict[str, Any]) -> Flask:
    """An app factory, as Flask apps are usually written: the extension is set up in it."""
    app = Flask(__name__)
    app.config["METERLY"] = config
    meterly_ext.init_app(app)

    @app.before_request
    def load_user() -> None:
        g.customer_id = request.headers.get("x-customer")

    @app.post("/send")
    @require_feature("messages", customer=current_customer, send_event=True)
    def send() -> Any:
        check = feature_check()
        return jsonify(sent=True, fallback=check.fallback_reason, same=g.meterly_check is check)

    @app.post("/send-async")
    @require_feature("messages", customer=lambda: g.customer_id, send_event=True)
    async def send_async() -> Any:
        return jsonify(sent=True, allowed=feature_check().allowed)

    @app.post("/big-job")
    @require_feature(
        "messages",
        customer=current_customer,
        required_balance=5000,
        status_code=403,
        denied_body=lambda result: {"upgrade": result.preview.title if result.preview else None},
    )
    def big_job() -> str:
        return "done"

    @app.get("/ungated")
    def ungated() -> str:
        feature_check()
        return "unreachable"

    return app


@contextmanager
def served(app: Flask) -> Iterator[httpx.Client]:
    """`app` served by waitress on a free 127.0.0.1 port while the block runs; an httpx client to it."""
    server: Any = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.effective_port}", timeout=10) as client:
            yield client
    finally:
        # Closed from the server's own loop thread: a socket closed under a running select() from another
        # thread fails that select with EBADF.
        server.trigger.pull_trigger(lambda: close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        meterly_ext.close()


def sandbox_config(sandbox: Sandbox, **more: Any) -> Dict[str, Any]:
    return {"SERVER_URL": sandbox.url, "API_KEY": sandbox.api_key, **more}


def test_a_view_runs_while_allowed_then_answers_402_with_the_preview(meterly_server: Sandbox) -> None:
    with served(create_app(sandbox_config(meterly_server))) as http:
        answers = [http.post("/send", headers={"x-customer": "user_1"}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 402]
    assert answers[0].json() == {"sent": True, "fallback": None, "same": True}
    assert answers[2].headers["content-type"] == "application/json"
    denial = answers[2].json()
    assert denial["code"] == "feature_not_allowed"
    assert denial["preview"]["title"] == "Messages limit reached"
    assert [product["id"] for product in denial["preview"]["products"]] == ["pro"]
    assert meterly_server.engine.balance("user_1", "messages")["usage"] == 2  # type: ignore[index]


def test_an_async_view_and_a_customer_from_g(meterly_server: Sandbox) -> None:
    with served(create_app(sandbox_config(meterly_server))) as http:
        statuses = [http.post("/send-async", headers={"x-customer": "user_1"}).status_code for _ in range(3)]
        assert http.post("/send-async", headers={"x-customer": "user_pro"}).json() == {
            "sent": True,
            "allowed": True,
        }
    assert statuses == [200, 200, 402]


def test_the_denial_status_and_body_are_configurable(meterly_server: Sandbox) -> None:
    with served(create_app(sandbox_config(meterly_server))) as http:
        answer = http.post("/big-job", headers={"x-customer": "user_1"})
    assert (answer.status_code, answer.json()) == (403, {"upgrade": "Messages limit reached"})


def test_an_error_handler_can_render_the_denial_itself(meterly_server: Sandbox) -> None:
    app = create_app(sandbox_config(meterly_server))

    @app.errorhandler(FeatureDenied)
    def paywall(denied: FeatureDenied) -> Any:
        preview = denied.result.preview
        return jsonify(paywall=preview.title if preview else None, status=denied.code), 402

    with served(app) as http:
        answer = http.post("/big-job", headers={"x-customer": "user_1"})
    assert (answer.status_code, answer.json()) == (402, {"paywall": "Messages limit reached", "status": 403})


def test_service_errors_are_not_denials(meterly_server: Sandbox) -> None:
    with served(create_app(sandbox_config(meterly_server, retry_config=None))) as http:
        assert http.post("/send", headers={"x-customer": "nobody"}).status_code == 500


def test_fail_open_answers_pass_through_marked(meterly_server: Sandbox) -> None:
    meterly_server.engine.faults.outage = True
    with served(create_app(sandbox_config(meterly_server, fail_open=True, retry_config=None))) as http:
        answer = http.post("/send", headers={"x-customer": "user_1"})
    assert (answer.status_code, answer.json()) == (
        200,
        {"sent": True, "fallback": "server_error", "same": True},
    )

    policy = FailOpenPolicy(default="deny")
    with served(create_app(sandbox_config(meterly_server, fail_open=policy, retry_config=None))) as http:
        answer = http.post("/send", headers={"x-customer": "user_1"})
    assert answer.status_code == 402
    assert answer.json()["fallback_reason"] == "server_error"


def test_both_services_from_the_config(meterly_server: Sandbox) -> None:
    config = {
        "server_urls": {"balances": meterly_server.url, "usage": meterly_server.url + "/api"},
        "api_versions": {"balances": "2.1"},
        "max_retries": 0,
        "api_key": meterly_server.api_key,
    }
    app = create_app(config)
    meterly_server.engine.faults.fail_next(1)
    with served(app) as http:
        assert http.post("/send", headers={"x-customer": "user_pro"}).status_code == 500  # no retry
        assert http.post("/send", headers={"x-customer": "user_pro"}).status_code == 200
        with app.app_context():
            assert get_client().usage.check(customer_id="user_pro", feature_code="messages").allowed
    assert meterly_server.engine.history[-1].path == "/api/v1/usage/check"


def test_the_config_takes_every_keyword_of_the_constructor() -> None:
    import inspect

    parameters = inspect.signature(Meterly.__init__).parameters.values()
    assert {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY} == KEYWORDS
    assert {"server_urls", "api_versions", "max_retries", "client", "hooks"} <= KEYWORDS


def test_an_unknown_config_key_fails_when_the_app_is_created() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        create_app({"server_url": "http://127.0.0.1:9", "retries": 2})
    message = str(caught.value)
    assert "unknown key 'retries'" in message
    assert "valid keys: api_key, api_versions" in message
    with pytest.raises(errors.RequestValidationError, match="must be a dict"):
        create_app(["api_key"])  # type: ignore[arg-type]


def test_a_client_of_your_own_is_used_and_left_open(meterly_server: Sandbox) -> None:
    app = Flask(__name__)
    with Meterly(server_url=meterly_server.url, api_key=meterly_server.api_key) as client:
        ext = MeterlyFlask(app, client=client)

        @app.get("/")
        @require_feature("messages", customer=lambda: "user_pro")
        def index() -> str:
            return "ok"

        with served(app) as http:
            assert http.get("/").text == "ok"
        ext.close()
        assert client.balances.check(customer_id="user_pro", feature_id="messages").allowed
    with pytest.raises(errors.RequestValidationError, match="client"):
        MeterlyFlask(client="not a client")  # type: ignore[arg-type]


def test_without_the_extension_or_the_gate_the_app_is_told_what_to_do() -> None:
    app = Flask(__name__)
    with app.app_context(), pytest.raises(RuntimeError, match="MeterlyFlask"):
        get_client()
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="require_feature"):
        feature_check()


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"feature_id": ""}, "feature_id"),
        ({"status_code": 42}, "status_code"),
        ({"customer": "user_1"}, "customer"),
        ({"denied_body": {"a": 1}}, "denied_body"),
        ({"required_balance": "5"}, "required_balance"),
        ({"send_event": "yes"}, "send_event"),
        ({"with_preview": 1}, "with_preview"),
        ({"properties": ["plan", "pro"]}, "properties"),
        ({"entity": "seat_1"}, "entity"),
    ],
)
def test_bad_gate_arguments_fail_when_the_view_is_defined(kwargs: Dict[str, Any], param: str) -> None:
    arguments: Dict[str, Any] = {"feature_id": "messages", "customer": current_customer, **kwargs}
    with pytest.raises(errors.RequestValidationError) as caught:
        require_feature(arguments.pop("feature_id"), **arguments)
    assert caught.value.param == param


def test_the_entity_is_read_per_request(meterly_server: Sandbox) -> None:
    seen: list[Optional[str]] = []
    app = create_app(sandbox_config(meterly_server))

    @app.post("/seat")
    @require_feature("messages", customer=current_customer, entity=lambda: request.headers.get("x-seat"))
    def seat() -> str:
        seen.append(feature_check().entity_id if isinstance(feature_check().entity_id, str) else None)
        return "ok"

    with served(app) as http:
        assert http.post("/seat", headers={"x-customer": "user_pro"}).text == "ok"
    assert seen == [None]
    assert "entity_id" not in meterly_server.engine.history[-1].body


def test_close_closes_the_clients_the_extension_built(meterly_server: Sandbox) -> None:
    app = create_app(sandbox_config(meterly_server))
    with app.app_context():
        built = get_client()
    assert built.balances.check(customer_id="user_pro", feature_id="messages").allowed
    meterly_ext.close()
    with pytest.raises(RuntimeError, match="closed"):
        built.balances.check(customer_id="user_pro", feature_id="messages")


def test_the_config_outbox_queues_and_close_delivers_it(meterly_server: Sandbox) -> None:
    app = create_app(sandbox_config(meterly_server, OUTBOX=True))

    @app.post("/queue")
    def queue() -> Any:
        return jsonify(
            key=get_outbox().usage.track(customer_id="user_pro", feature_code="messages").idempotency_key
        )

    meterly_server.engine.faults.outage = True
    with served(app) as client:
        keys = {client.post("/queue").json()["key"] for _ in range(3)}
        meterly_server.engine.faults.outage = False
    # served() ends with meterly_ext.close(): the client's close() delivered what waited
    assert len(keys) == 3
    balance = meterly_server.engine.balance("user_pro", "messages")
    assert balance is not None
    assert balance["usage"] == 3


def test_without_an_outbox_in_the_config_get_outbox_names_it(meterly_server: Sandbox) -> None:
    app = create_app(sandbox_config(meterly_server))
    with app.app_context(), pytest.raises(errors.RequestValidationError) as raised:
        get_outbox()
    assert raised.value.param == "outbox"
    meterly_ext.close()
