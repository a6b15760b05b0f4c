"""What the outbox knows of each queued operation: its checks (the registry's, or a provisional body's),
its JSON keys, and the form of its timestamp."""

from __future__ import annotations

from datetime import datetime

import pytest

from meterly import errors
from meterly.outbox._operations import (
    AUTUMN_OPERATIONS,
    BALANCES_BATCH_TRACK,
    BALANCES_TRACK,
    BALANCES_TRACK_TOKENS,
    USAGE_TRACK,
    all_params,
    queued_operation,
    registered,
    stamp,
    wire_keys,
)


def test_commet_s_track_is_read_from_the_registry_and_deduplicated_by_its_header() -> None:
    op = registered(USAGE_TRACK)
    assert op is not None
    assert op.dedup == "header"
    assert [param.name for param in queued_operation(USAGE_TRACK).params] == [
        param.name for param in op.params
    ]
    for operation_id in (BALANCES_TRACK, BALANCES_TRACK_TOKENS, BALANCES_BATCH_TRACK):
        assert registered(operation_id).operation_id == operation_id  # every queued write is declared


def test_json_keys_follow_each_service_s_spelling() -> None:
    commet = wire_keys(USAGE_TRACK)
    assert (commet["customer_id"], commet["feature_code"], commet["event_id"]) == (
        "customerId",
        "featureCode",
        "eventId",
    )
    autumn = wire_keys(BALANCES_TRACK)
    assert (autumn["customer_id"], autumn["feature_id"], autumn["async_"]) == (
        "customer_id",
        "feature_id",
        "async",
    )


def test_autumn_s_timestamps_are_unix_milliseconds_and_commet_s_iso_8601_text() -> None:
    assert {BALANCES_TRACK, BALANCES_TRACK_TOKENS} == AUTUMN_OPERATIONS
    assert queued_operation(BALANCES_TRACK).unix_ms
    assert queued_operation(BALANCES_TRACK_TOKENS).unix_ms
    assert not queued_operation(USAGE_TRACK).unix_ms
    assert stamp(True, 1_764_590_400.1234) == 1_764_590_400_123
    text = stamp(False, 1_764_590_400.1234)
    assert text == "2025-12-01T12:00:00.123+00:00"
    assert datetime.fromisoformat(text).timestamp() == pytest.approx(1_764_590_400.123)


def test_track_tokens_requires_its_model_and_token_counts_and_checks_them() -> None:
    params = {param.name: param for param in queued_operation(BALANCES_TRACK_TOKENS).params}
    required = sorted(name for name, param in params.items() if param.required)
    assert required == ["customer_id", "input_tokens", "model_id", "output_tokens"]
    assert params["input_tokens"].check("input_tokens", 12) == 12
    with pytest.raises(errors.RequestValidationError) as caught:
        params["input_tokens"].check("input_tokens", -1)
    assert caught.value.param == "input_tokens"


def test_all_params_lists_every_body_argument_in_declaration_order() -> None:
    assert all_params(BALANCES_TRACK)[:3] == ["customer_id", "feature_id", "event_name"]
    assert "async_" in all_params(BALANCES_TRACK)
    assert all_params(USAGE_TRACK)[:2] == ["customer_id", "feature_code"]
