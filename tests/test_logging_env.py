"""The standard `meterly` logger gets per-attempt lines at DEBUG; METERLY_LOG switches it on without code."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import httpx
import pytest

import meterly._attempts
import meterly._logging
from meterly import Meterly, errors
from meterly._logging import MeterlyLogWarning

from .conftest import API_KEY, CHECK_BODY, json_response, sequence

LIBRARY = logging.getLogger("meterly")


@pytest.fixture
def fresh_env_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a new process: no handler attached from METERLY_LOG yet; undone after the test."""
    level = LIBRARY.level
    monkeypatch.setattr(meterly._logging, "_env_handler", None)
    monkeypatch.setattr(meterly._logging, "_reported", None)
    yield
    handler = meterly._logging._env_handler
    if handler is not None:
        LIBRARY.removeHandler(handler)
    LIBRARY.setLevel(level)


def client_for(*answers: httpx.Response, **kwargs: object) -> Meterly:
    transport = httpx.MockTransport(sequence(*answers))
    kwargs.setdefault("retry_config", None)
    return Meterly(api_key=API_KEY, client=httpx.Client(transport=transport), **kwargs)  # type: ignore[arg-type]


def check(client: Meterly) -> None:
    client.balances.check(customer_id="cus_123", feature_id="messages")


def test_attempt_lines_go_to_the_meterly_logger_when_it_is_enabled_for_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="meterly")
    check(client_for(json_response(200, CHECK_BODY)))
    lines = [r for r in caplog.records if r.name == "meterly"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.DEBUG
    assert (
        lines[0]
        .getMessage()
        .startswith("POST https://api.meterly.dev/v1/balances.check attempt=1 status=200")
    )
    assert "'authorization': '[REDACTED]'" in lines[0].getMessage()
    assert API_KEY not in caplog.text


def test_nothing_is_formatted_when_no_logger_wants_attempt_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="meterly")
    with mock.patch.object(
        meterly._attempts, "redact_headers", wraps=meterly._attempts.redact_headers
    ) as spy:
        check(client_for(json_response(200, CHECK_BODY)))
    assert spy.call_count == 0
    assert caplog.records == []


def test_a_debug_logger_under_meterly_is_not_logged_twice(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="meterly")
    check(client_for(json_response(200, CHECK_BODY), debug_logger=logging.getLogger("meterly.app")))
    assert [r.name for r in caplog.records] == ["meterly.app"]


def test_an_outside_debug_logger_and_the_meterly_logger_both_get_the_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    check(client_for(json_response(200, CHECK_BODY), debug_logger=logging.getLogger("app.billing")))
    assert sorted(r.name for r in caplog.records if r.name != "httpx") == ["app.billing", "meterly"]


@pytest.mark.usefixtures("fresh_env_logging")
def test_meterly_log_debug_attaches_one_stderr_handler_at_client_construction(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METERLY_LOG", "debug")
    handlers_before = list(LIBRARY.handlers)
    first = client_for(json_response(200, CHECK_BODY))
    client_for(json_response(200, CHECK_BODY))  # a second client adds no second handler
    assert len(LIBRARY.handlers) == len(handlers_before) + 1
    assert LIBRARY.level == logging.DEBUG
    check(first)
    err = capsys.readouterr().err
    assert err.count("attempt=1 status=200") == 1
    assert "DEBUG meterly: POST https://api.meterly.dev/v1/balances.check" in err


@pytest.mark.usefixtures("fresh_env_logging")
def test_meterly_log_info_shows_fail_open_warnings_but_not_attempt_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METERLY_LOG", "INFO")
    res = client_for(json_response(503, {}), fail_open=True).balances.check(customer_id="c", feature_id="f")
    assert res.is_fallback
    err = capsys.readouterr().err
    assert "WARNING meterly: balancesCheck failed (server_error" in err
    assert "attempt=" not in err


@pytest.mark.usefixtures("fresh_env_logging")
def test_an_empty_meterly_log_changes_nothing_and_says_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERLY_LOG", "")
    handlers_before = list(LIBRARY.handlers)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client_for(json_response(200, CHECK_BODY))
    assert LIBRARY.handlers == handlers_before


@pytest.mark.usefixtures("fresh_env_logging")
@pytest.mark.parametrize("value", ["verbose", "0", "degub"])
def test_an_unknown_meterly_log_changes_nothing_and_is_reported_once(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("METERLY_LOG", value)
    handlers_before = list(LIBRARY.handlers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client_for(json_response(200, CHECK_BODY))
        client_for(json_response(200, CHECK_BODY))  # a second client does not warn again
    assert LIBRARY.handlers == handlers_before
    assert [type(warning.message) for warning in caught] == [MeterlyLogWarning]
    message = str(caught[0].message)
    assert f"METERLY_LOG={value!r}" in message
    assert "debug, info" in message


@pytest.mark.usefixtures("fresh_env_logging")
@pytest.mark.parametrize("level", ["debug", "info"])
def test_keys_never_appear_in_meterly_log_output_at_any_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    monkeypatch.setenv("METERLY_LOG", level)
    echoed = json_response(401, {"message": f"bad key {API_KEY}", "code": "invalid_key"})
    client = client_for(json_response(503, {}), json_response(503, {}), echoed, fail_open=True)
    client.balances.check(customer_id="c", feature_id="f")  # fail-open warning
    client.usage.check(customer_id="c", feature_code="f")  # x-api-key scheme, fail-open again
    with pytest.raises(errors.AuthenticationError) as caught:
        check(client)
    logging.getLogger("meterly").error("call failed: %s", caught.value)  # an app logging the error
    err = capsys.readouterr().err
    assert "meterly" in err
    assert API_KEY not in err


def test_importing_meterly_attaches_no_handler_even_with_meterly_log_set() -> None:
    code = (
        "import logging, meterly\n"
        "assert logging.getLogger('meterly').handlers == [], 'handler attached at import'\n"
        "meterly.Meterly(api_key='k')\n"
        "assert len(logging.getLogger('meterly').handlers) == 1\n"
    )
    env = {**os.environ, "METERLY_LOG": "debug"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_readme_logging_example_enables_attempt_lines(caplog: pytest.LogCaptureFixture) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Logging", 1)[1].split("\n## ", 1)[0]
    example = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    level = LIBRARY.level
    try:
        exec(example, {})
        assert LIBRARY.isEnabledFor(logging.DEBUG)
        check(client_for(json_response(200, CHECK_BODY)))
        assert [r.name for r in caplog.records if r.name == "meterly"] == ["meterly"]
    finally:
        LIBRARY.setLevel(level)
