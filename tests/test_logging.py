"""debug_logger: one line per attempt, every security header redacted."""

from __future__ import annotations

import logging
from typing import Callable

import pytest

from meterly import models

from .conftest import API_KEY, CHECK_BODY, Harness, json_response, ok_any, sequence

Make = Callable[..., Harness]


@pytest.fixture
def debug_logger(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.DEBUG, logger="tests.meterly.debug")
    return logging.getLogger("tests.meterly.debug")


def test_one_line_per_attempt_with_method_url_status_elapsed_and_request_id(
    make: Make, debug_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    h = make(sequence(json_response(503, {}), json_response(200, CHECK_BODY)), debug_logger=debug_logger)
    h.check()
    lines = [r.getMessage() for r in caplog.records if r.name == debug_logger.name]
    assert len(lines) == 2
    assert lines[0].startswith("POST https://api.meterly.dev/v1/balances.check attempt=1 status=503 ")
    assert lines[1].startswith("POST https://api.meterly.dev/v1/balances.check attempt=2 status=200 ")
    assert all("elapsed_ms=" in line and "request_id=req_test" in line for line in lines)


def test_security_headers_are_redacted_for_both_schemes(
    make: Make, debug_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    h = make(ok_any, debug_logger=debug_logger)
    h.check(http_headers={"Cookie": "session=abc", "Proxy-Authorization": "Basic xyz"})
    h.usage()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert API_KEY not in text
    assert "session=abc" not in text
    assert "Basic xyz" not in text
    assert "'authorization': '[REDACTED]'" in text
    assert "'x-api-key': '[REDACTED]'" in text


def test_keys_never_reach_any_log_at_any_level(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = make(sequence(json_response(503, {})), debug_logger=logging.getLogger("x"), fail_open=True)
    assert isinstance(h.check(), models.CheckResponse)
    assert API_KEY not in caplog.text


def test_nothing_is_logged_without_a_debug_logger_below_debug_level(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the `meterly` logger, enabled for DEBUG, is covered in test_logging_env
    h = make(ok_any)
    h.check()
    assert [r for r in caplog.records if r.name.startswith("meterly")] == []
