"""`usage.check` (Commet): its declaration, and the answer it makes up under fail-open."""

from __future__ import annotations

import json

from meterly import models
from meterly._declaration import API_KEY_AUTH
from meterly._endpoints._services import COMMET_VERSION
from meterly._endpoints.usage_check import USAGE_CHECK as OP
from tests.conftest import USAGE_BODY


def test_it_posts_to_commets_path_with_the_api_key_header_and_commets_version() -> None:
    assert (OP.method, OP.path, OP.security, OP.version_header) == (
        "POST",
        "/v1/usage/check",
        API_KEY_AUTH,
        COMMET_VERSION,
    )
    assert (OP.resource, OP.method_name, OP.operation_id) == ("usage", "check", "usageCheck")


def test_it_only_reads_and_the_service_dedups_by_header() -> None:
    assert not OP.writes_with({})
    assert OP.dedup == "header"


def test_the_answer_is_the_data_of_the_envelope() -> None:
    assert OP.envelope is not None
    result = OP.parse(json.dumps(USAGE_BODY).encode())
    assert isinstance(result, models.UsageCheck)


def test_the_fallback_echoes_the_feature_and_quantity() -> None:
    assert OP.fallback is not None
    answer = OP.fallback({"feature_code": "api_calls", "quantity": 3}, True)
    assert (answer.allowed, answer.feature_code, answer.quantity) == (True, "api_calls", 3)


def test_fail_open_policies_look_it_up_by_feature_code() -> None:
    assert OP.feature_param == "feature_code"
