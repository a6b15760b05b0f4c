"""`meterly.integrations.django`: the require_feature decorator on sync and async views, and its clients.

The views run under Django's test client against a served sandbox (`meterly_server`), the way an app
configured with a server URL in `settings.METERLY` would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        DEBUG=False,
        SECRET_KEY="django-tests-only",
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        METERLY={},
    )
    django.setup()

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, errors
from meterly.integrations import django as meterly_django
from meterly.integrations.django import get_async_client, get_client, get_outbox, require_feature
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


def customer(request: HttpRequest) -> str:
    return request.headers["x-customer"]


async def async_customer(request: HttpRequest) -> str:
    return request.headers["x-customer"]


@require_feature("messages", customer=customer, send_event=True)
def send_message(request: HttpRequest) -> HttpResponse:
    check = request.meterly_check  # type: ignore[attr-defined]
    return JsonResponse({"sent": True, "fallback": check.fallback_reason})


@require_feature("messages", customer=async_customer, send_event=True)
async def send_message_async(request: HttpRequest) -> HttpResponse:
    check = request.meterly_check  # type: ignore[attr-defined]
    return JsonResponse({"sent": True, "fallback": check.fallback_reason})


@require_feature(
    "messages",
    customer=customer,
    required_balance=5000,
    status_code=403,
    denied_body=lambda result: {"upgrade": result.preview.title if result.preview else None},
)
def big_job(request: HttpRequest) -> HttpResponse:
    return HttpResponse("done")


def queue_usage(request: HttpRequest) -> HttpResponse:
    queued = get_outbox().usage.track(customer_id="user_pro", feature_code="messages")
    return JsonResponse({"key": queued.idempotency_key})


async def queue_usage_async(request: HttpRequest) -> HttpResponse:
    queued = get_outbox().usage.track(customer_id="user_pro", feature_code="messages", value=2)
    return JsonResponse({"key": queued.idempotency_key})


urlpatterns = [
    path("queue", queue_usage),
    path("queue-async", queue_usage_async),
    path("send", send_message),
    path("send-async", send_message_async),
    path("big-job", big_job),
]


@pytest.fixture
def served(meterly_server: Sandbox) -> Iterator[Sandbox]:
    """settings.METERLY pointed at the served sandbox (the clients are rebuilt for it)."""
    config = {"SERVER_URL": meterly_server.url, "API_KEY": meterly_server.api_key}
    with override_settings(METERLY=config):
        yield meterly_server


def test_a_sync_view_runs_while_allowed_then_answers_402_with_the_preview(served: Sandbox) -> None:
    client = Client(headers={"x-customer": "user_1"})
    answers = [client.post("/send") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 402]
    assert answers[0].json() == {"sent": True, "fallback": None}
    denial = answers[2].json()
    assert denial["code"] == "feature_not_allowed"
    assert denial["preview"]["title"] == "Messages limit reached"
    assert [product["id"] for product in denial["preview"]["products"]] == ["pro"]


async def test_an_async_view_is_gated_by_the_async_client(served: Sandbox) -> None:
    client = AsyncClient()
    answers = [await client.post("/send-async", headers={"x-customer": "user_1"}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 402]
    assert answers[2].json()["preview"]["scenario"] == "usage_limit"
    assert isinstance(get_async_client(), AsyncMeterly)


def test_an_async_view_under_the_sync_test_client(served: Sandbox) -> None:
    # Each request runs the async view in an event loop of its own: the client opens a pool per loop.
    client = Client(headers={"x-customer": "user_pro"})
    assert [client.post("/send-async").status_code for _ in range(3)] == [200, 200, 200]


def test_the_denial_status_and_body_are_configurable(served: Sandbox) -> None:
    answer = Client(headers={"x-customer": "user_1"}).post("/big-job")
    assert (answer.status_code, answer.json()) == (403, {"upgrade": "Messages limit reached"})


def test_service_errors_are_not_denials(served: Sandbox) -> None:
    with pytest.raises(errors.NotFoundError):
        Client(headers={"x-customer": "nobody"}).post("/send")


def test_fail_open_answers_pass_through_marked(meterly_server: Sandbox) -> None:
    meterly_server.engine.faults.outage = True
    config = {"server_url": meterly_server.url, "api_key": meterly_server.api_key}
    with override_settings(METERLY={**config, "fail_open": True, "retry_config": None}):
        answer = Client(headers={"x-customer": "user_1"}).post("/send")
        assert (answer.status_code, answer.json()) == (200, {"sent": True, "fallback": "server_error"})
    with override_settings(
        METERLY={**config, "fail_open": FailOpenPolicy(default="deny"), "retry_config": None}
    ):
        answer = Client(headers={"x-customer": "user_1"}).post("/send")
        assert answer.status_code == 402
        assert answer.json()["fallback_reason"] == "server_error"


def test_one_client_per_process_shared_by_concurrent_threads(served: Sandbox) -> None:
    start = threading.Barrier(8)

    def first_use(_: int) -> int:
        start.wait(timeout=10)
        return id(get_client())

    with ThreadPoolExecutor(8) as pool:
        assert len(set(pool.map(first_use, range(8)))) == 1

    served.engine.add_customer("user_busy", plans=["free"])
    served.engine.grant("user_busy", "messages", 28)  # 30 messages in all

    def send(_: int) -> int:
        return Client(headers={"x-customer": "user_busy"}).post("/send").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, range(40)))
    assert (statuses.count(200), statuses.count(402)) == (30, 10)


def test_changing_the_settings_replaces_the_clients(served: Sandbox) -> None:
    before = get_client()
    with override_settings(METERLY={"server_url": served.url, "api_key": served.api_key, "timeout_ms": 900}):
        assert get_client() is not before
    with pytest.raises(RuntimeError, match="closed"):
        before.balances.check(customer_id="user_1", feature_id="messages")


def test_the_settings_are_checked(served: Sandbox) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(METERLY={"api_kee": "x"}), pytest.raises(ImproperlyConfigured, match="api_kee"):
        get_client()
    with override_settings(METERLY=["api_key"]), pytest.raises(ImproperlyConfigured, match="dict"):
        get_client()


def test_http_backend_applies_to_the_async_client_only(served: Sandbox) -> None:
    config: Dict[str, Any] = {"server_url": served.url, "api_key": served.api_key, "http_backend": "httpx"}
    with override_settings(METERLY=config):
        assert isinstance(get_client(), Meterly)
        assert isinstance(get_async_client(), AsyncMeterly)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_worker_forked_from_a_preloaded_master_gets_its_own_pool(served: Sandbox) -> None:
    # As gunicorn --preload does: the master builds the client and uses it, then forks its workers.
    master_client = get_client()
    Client(headers={"x-customer": "user_pro"}).post("/send")
    master_pool = master_client._http()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        status = 1
        try:
            answer = Client(headers={"x-customer": "user_pro"}).post("/send")
            same = get_client() is master_client
            fresh_pool = master_client._http() is not master_pool
            os.write(write, f"{answer.status_code} {same} {fresh_pool}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    assert report == "200 True True"
    # The master's pool was untouched by the worker and still serves.
    assert master_client._http() is master_pool
    assert Client(headers={"x-customer": "user_pro"}).post("/send").status_code == 200
    assert meterly_django._clients["sync"] is master_client


def test_bad_decorator_arguments_fail_at_import_time() -> None:
    with pytest.raises(errors.RequestValidationError, match="feature_id"):
        require_feature("", customer=customer)
    with pytest.raises(errors.RequestValidationError, match="status_code"):
        require_feature("messages", customer=customer, status_code=99)
    with pytest.raises(errors.RequestValidationError, match="customer"):
        require_feature("messages", customer="user_1")  # type: ignore[arg-type]


def test_the_settings_take_every_keyword_of_the_clients_constructors() -> None:
    import inspect

    def keywords(cls: type) -> set[str]:
        parameters = inspect.signature(cls.__init__).parameters.values()
        return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}

    accepted = meterly_django._KEYWORDS
    assert accepted == keywords(Meterly) | keywords(AsyncMeterly)
    assert {"server_urls", "api_versions", "max_retries", "http_backend", "client"} <= accepted


def test_both_services_from_the_settings(meterly_server: Sandbox) -> None:
    # server_urls, api_versions and max_retries: what an app that uses both services sets.
    engine = meterly_server.engine
    config = {
        "SERVER_URLS": {"balances": meterly_server.url, "usage": meterly_server.url + "/api"},
        "API_VERSIONS": {"balances": "2.1", "usage": "2026-08-27"},
        "MAX_RETRIES": 0,
        "api_key": meterly_server.api_key,
    }
    with override_settings(METERLY=config):
        engine.faults.fail_next(1)
        # A send_event check answered 503 may have been recorded (Autumn does not deduplicate it).
        with pytest.raises(errors.WriteOutcomeUnknownError) as caught:
            Client(headers={"x-customer": "user_pro"}).post("/send")
        assert isinstance(caught.value.__cause__, errors.InternalServerError)
        assert len(engine.history) == 1  # not resent
        assert Client(headers={"x-customer": "user_pro"}).post("/send").status_code == 200
        usage = get_client().usage.check(customer_id="user_pro", feature_code="messages")
        assert usage.allowed
        paths = [call.path for call in engine.history]
        assert paths[-1] == "/api/v1/usage/check"


def test_an_unknown_setting_is_named_with_the_valid_ones() -> None:
    from django.core.exceptions import ImproperlyConfigured

    config = {"server_url": "http://127.0.0.1:9", "retries": 2}
    with override_settings(METERLY=config), pytest.raises(ImproperlyConfigured) as caught:
        get_client()
    message = str(caught.value)
    assert "'retries'" in message
    assert "valid keys: " in message
    for key in ("api_versions", "max_retries", "server_urls", "retry_config"):
        assert key in message


def test_a_client_in_the_settings_goes_to_the_client_of_its_kind(served: Sandbox) -> None:
    import httpx

    with httpx.Client() as http:
        config = {"server_url": served.url, "api_key": served.api_key, "client": http}
        with override_settings(METERLY=config):
            assert Client(headers={"x-customer": "user_pro"}).post("/send").status_code == 200
            assert isinstance(get_async_client(), AsyncMeterly)  # not handed the sync httpx.Client


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"required_balance": "5"}, "required_balance"),
        ({"required_balance": float("nan")}, "required_balance"),
        ({"send_event": "yes"}, "send_event"),
        ({"with_preview": 1}, "with_preview"),
        ({"properties": ["plan", "pro"]}, "properties"),
        ({"entity": "seat_1"}, "entity"),
        ({"feature_id": "mess\nages"}, "feature_id"),
    ],
)
def test_bad_check_arguments_fail_when_the_view_is_decorated(kwargs: Dict[str, Any], param: str) -> None:
    arguments: Dict[str, Any] = {"feature_id": "messages", "customer": customer, **kwargs}
    with pytest.raises(errors.RequestValidationError) as caught:
        require_feature(arguments.pop("feature_id"), **arguments)
    assert caught.value.param == param


def _usage_of_user_pro(server: Sandbox) -> float:
    balance = server.engine.balance("user_pro", "messages")
    assert balance is not None
    return float(balance["usage"])


def test_sync_and_async_views_queue_into_the_settings_outbox(meterly_server: Sandbox) -> None:
    config = {"server_url": meterly_server.url, "api_key": meterly_server.api_key, "outbox": True}
    with override_settings(METERLY=config):
        assert Client().post("/queue").status_code == 200
        assert Client().post("/queue-async").status_code == 200
        outbox = get_outbox()
        assert outbox is get_client().outbox
        result = outbox.flush(timeout_ms=10_000)
        with pytest.raises(errors.RequestValidationError):
            get_async_client().outbox  # noqa: B018  # the sync client's outbox serves async views
    assert result.pending == 0
    assert _usage_of_user_pro(meterly_server) == 3
    assert outbox.closed  # replacing the settings closed the client and its outbox


def test_without_an_outbox_in_the_settings_get_outbox_names_it(served: Sandbox) -> None:
    with pytest.raises(errors.RequestValidationError) as raised:
        get_outbox()
    assert raised.value.param == "outbox"


def test_the_app_config_starts_the_outbox_so_a_durable_files_leftovers_go_out(
    meterly_server: Sandbox, tmp_path: Any
) -> None:
    import time

    from django.apps import AppConfig

    from meterly import Outbox

    path = str(tmp_path / "outbox.sqlite3")
    config = {"server_url": meterly_server.url, "api_key": meterly_server.api_key}
    meterly_server.engine.faults.outage = True
    with Meterly(**config, outbox=Outbox(path=path, close_timeout_ms=0)) as earlier:
        for _ in range(3):
            earlier.outbox.usage.track(customer_id="user_pro", feature_code="messages")
    meterly_server.engine.faults.outage = False
    with override_settings(METERLY={**config, "outbox": Outbox(path=path)}):
        AppConfig.create("meterly.integrations.django.MeterlyConfig").ready()
        deadline = time.monotonic() + 10
        while _usage_of_user_pro(meterly_server) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # nothing is queued here: only the started sender delivers them
        assert _usage_of_user_pro(meterly_server) == 3


def test_the_app_config_refuses_a_misspelt_setting_at_startup() -> None:
    from django.apps import AppConfig
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(METERLY={"outbx": True}), pytest.raises(ImproperlyConfigured, match="outbx"):
        AppConfig.create("meterly.integrations.django.MeterlyConfig").ready()
