"""The user-style code in tests/typing/ runs as written: the types it asserts are the values it gets."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from meterly import models

from .conftest import CHECK_BODY, USAGE_BODY
from .test_usage_track import EVENT
from .typing import user_code


def answer(request: httpx.Request) -> httpx.Response:
    headers = {"x-request-id": "req_typing"}
    if request.url.path == "/v1/usage/check":
        return httpx.Response(200, json=USAGE_BODY, headers=headers)
    if request.url.path == "/v1/usage/events":
        sent = json.loads(request.content)
        echoed = {
            "customerId": sent["customerId"],
            "featureCode": sent["featureCode"],
            "eventId": sent.get("eventId"),
        }
        return httpx.Response(200, json={"success": True, "data": {**EVENT, **echoed}}, headers=headers)
    if json.loads(request.content)["customer_id"] == "cus_404":
        return httpx.Response(404, json={"message": "no such customer", "code": "not_found"}, headers=headers)
    # The answer echoes its customer, as the service does (the SDK refuses another request's answer).
    customer = json.loads(request.content)["customer_id"]
    return httpx.Response(
        200, json={**CHECK_BODY, "customer_id": customer, "entity_id": None}, headers=headers
    )


def test_the_typed_user_code_runs_on_both_clients() -> None:
    client, aclient = user_code.make_clients(httpx.MockTransport(answer))
    assert user_code.balances_check(client) == 72
    client, aclient = user_code.make_clients(httpx.MockTransport(answer))
    assert user_code.usage_check(client) == 3
    assert user_code.usage_track(client) == 15
    assert user_code.usage_track_from_a_dict(client) == EVENT["value"]
    assert isinstance(user_code.raw_responses(client), models.CheckResponse)
    assert user_code.error_attributes(client) == {
        "status": 404,
        "code": "not_found",
        "request_id": "req_typing",
    }
    assert asyncio.run(user_code.async_calls(aclient)) == (True, True)


def test_the_typed_recording_code_runs_against_the_sandbox() -> None:
    from meterly import Meterly
    from meterly.sandbox import DEFAULT_API_KEY, SandboxTransport

    with Meterly(api_key=DEFAULT_API_KEY, client=httpx.Client(transport=SandboxTransport())) as client:
        assert user_code.record_on_autumn(client) == 200


def test_unset_narrowing_tells_absent_from_null_from_a_value() -> None:
    base = {"allowed": True, "customer_id": "c", "balance": None}
    assert user_code.unset_narrowing(models.CheckResponse.model_validate(base)) == "absent"
    assert (
        user_code.unset_narrowing(models.CheckResponse.model_validate({**base, "entity_id": None})) == "null"
    )
    assert user_code.unset_narrowing(models.CheckResponse.model_validate({**base, "entity_id": "e1"})) == "e1"


def test_the_readme_typing_excerpt_is_checked_code_from_tests_typing() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Typing", 1)[1].split("\n## ", 1)[0]
    excerpt = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    checked = {line.strip() for line in Path(user_code.__file__).read_text().splitlines()}
    # The excerpt is also run as-is by tests/docs, so it carries its own imports and client; every other
    # line must be one that mypy and pyright check in user_code.py.
    setup = ("from ", "import ", "with Meterly() as client:")
    statements = [line.strip() for line in excerpt.strip().splitlines() if line.strip()]
    statements = [line for line in statements if not line.startswith(setup)]
    assert len(statements) >= 4
    for line in statements:
        assert line in checked, f"README line not in tests/typing/user_code.py: {line}"


def test_the_readme_hook_examples_pass_mypy_strict_as_written(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    section = (root / "README.md").read_text().split("\n## Hooks\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 2
    paths = []
    for index, code in enumerate(blocks):
        path = tmp_path / f"readme_hook_{index}.py"
        path.write_text(code)
        paths.append(str(path))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(root / "pyproject.toml"), *paths],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
