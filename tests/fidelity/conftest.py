"""The services' own clients (autumn-sdk 1.2.0, commet-sdk 9.7.0) pointed at a served sandbox.

Every test runs against both ways of serving it: `Sandbox()` in this process and `python -m
meterly.sandbox` in a child process. Each way serves the demo seed, fresh for each test module.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import autumn_sdk
import commet
import httpx
import pytest

from meterly.sandbox import COMMET_API_KEY, DEFAULT_API_KEY, Sandbox


def _serve_in_a_child() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterly.sandbox", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line + (proc.stderr.read() if proc.stderr else "")
        assert "ck_test_sandbox" in line  # the demo names both public keys
        yield line.split("listening on ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module", params=["Sandbox()", "python -m meterly.sandbox"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of a served demo sandbox."""
    if request.param == "Sandbox()":
        with Sandbox() as sandbox:
            yield sandbox.url
    else:
        yield from _serve_in_a_child()


def autumn_client(server_url: str, secret_key: str = DEFAULT_API_KEY) -> Any:
    """Autumn's own client, as its README shows it, pointed at the sandbox."""
    return autumn_sdk.Autumn(secret_key=secret_key, server_url=server_url, retry_config=None, fail_open=False)


def commet_client(server_url: str, api_key: str = COMMET_API_KEY) -> Any:
    """Commet's own client pointed at the sandbox.

    Its host is hard-coded (`https://commet.co/api/v1`), so its private httpx client is replaced by one
    with the sandbox's base URL and the headers the official client built (key, Commet-Version).
    """
    client = commet.Commet(api_key=api_key, retries=0)
    http = client._http
    headers = http._client.headers
    http._client.close()
    http._client = httpx.Client(base_url=f"{server_url}/api/v1", headers=headers, timeout=10)
    return client


@pytest.fixture
def autumn(server_url: str) -> Iterator[Any]:
    client = autumn_client(server_url)
    with client:
        yield client


@pytest.fixture
def commet_sdk(server_url: str) -> Iterator[Any]:
    client = commet_client(server_url)
    with client:
        yield client
