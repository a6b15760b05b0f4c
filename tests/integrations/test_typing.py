"""The typed integration code in tests/typing/ runs as written, against the sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from django.test import RequestFactory, override_settings

from meterly import AsyncMeterly, Meterly
from meterly.sandbox import Sandbox, SandboxEngine, SandboxTransport
from tests.docs.codeblocks import strict_type_check
from tests.integrations import test_django  # noqa: F401 - configures Django's settings
from tests.typing import integrations_code as code

pytestmark = pytest.mark.meterly_seed("demo")


def test_the_gate_answers_the_typed_result(meterly_engine: SandboxEngine) -> None:
    http = httpx.AsyncClient(transport=SandboxTransport(meterly_engine))
    client = AsyncMeterly(api_key="sk_test_sandbox", client=http)
    gate = code.make_gate()
    assert asyncio.run(code.gate_directly(gate, client)) is True
    meterly_engine.track("cus_pro", "messages", 1000)
    assert asyncio.run(code.gate_directly(gate, client)) is False
    assert code.make_app().router is not None


def test_the_django_view_and_clients(meterly_server: Sandbox) -> None:
    with override_settings(METERLY={"server_url": meterly_server.url, "api_key": meterly_server.api_key}):
        request = RequestFactory().get("/", headers={"x-customer-id": "cus_pro"})
        assert code.django_view(request).status_code == 200
        clients = code.django_clients()
        assert isinstance(clients["sync"], Meterly)
        assert isinstance(clients["async"], AsyncMeterly)


def test_the_instrumentor_and_no_waits(meterly_client: Meterly) -> None:
    code.traced(meterly_client)
    assert meterly_client._instrument is None
    assert code.no_waits(meterly_client).waits == []
    assert code.served().startswith("http://127.0.0.1:")


def test_feature_check_needs_a_gated_view() -> None:
    from meterly.integrations.django import feature_check

    with pytest.raises(RuntimeError, match="require_feature"):
        feature_check(RequestFactory().get("/"))


USER_CODE = """\
from typing import Any, Dict

from typing_extensions import assert_type

from meterly import errors
from meterly.integrations.fastapi import FeatureDenied, meterly_lifespan
from meterly.testing import Sandbox, SandboxEngine

meterly_lifespan(fail_open=True, max_retries=1, server_urls={"usage": "http://127.0.0.1:8787/api"})
meterly_lifespan(fail_opne=True)  # the typo both checkers must refuse


def details(e: errors.APIError) -> None:
    assert_type(e.details, errors.JSONValue)
    if isinstance(e.details, list):
        for item in e.details:
            if isinstance(item, dict):
                print(item.get("field"))


def denied(e: FeatureDenied) -> Dict[str, Any]:
    assert_type(e.detail, Any)
    return {"detail": e.detail, "allowed": e.result.allowed}


def fixtures(meterly_server: Sandbox, meterly_engine: SandboxEngine) -> str:
    meterly_engine.add_customer("cus_new")
    return meterly_server.url + meterly_server.api_key
"""


def test_strict_checkers_type_the_integrations_as_users_see_them(tmp_path: Path) -> None:
    path = tmp_path / "user_app.py"
    path.write_text(USER_CODE, encoding="utf-8")
    typo_line = (
        USER_CODE.splitlines().index("meterly_lifespan(fail_opne=True)  # the typo both checkers must refuse")
        + 1
    )

    for result in strict_type_check(tmp_path, [path]):
        errors_found = [
            line for line in result.output.splitlines() if "error" in line and "user_app.py" in line
        ]
        assert len(errors_found) == 1, f"{result.checker}:\n{result.output}"
        assert f"user_app.py:{typo_line}:" in errors_found[0], f"{result.checker}:\n{result.output}"
        assert "fail_opne" in errors_found[0]
