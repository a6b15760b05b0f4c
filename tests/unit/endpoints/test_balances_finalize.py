"""`balances.finalize` (Autumn): confirm or release a hold made by `balances.check(lock=...)`."""

from __future__ import annotations

import pytest

from meterly import errors, models
from meterly._declaration import BEARER_AUTH
from meterly._endpoints._services import AUTUMN_RECORDING_VERSION
from meterly._endpoints.balances_finalize import BALANCES_FINALIZE as OP


def test_it_posts_to_autumns_path_with_bearer_auth_and_the_published_specs_version() -> None:
    assert (OP.method, OP.path, OP.security, OP.version_header) == (
        "POST",
        "/v1/balances.finalize",
        BEARER_AUTH,
        AUTUMN_RECORDING_VERSION,
    )
    assert (OP.resource, OP.method_name, OP.operation_id) == ("balances", "finalize", "balancesFinalize")


def test_it_always_writes_is_not_deduplicated_and_never_fails_open() -> None:
    assert OP.writes is True
    assert OP.dedup == "none"
    assert OP.fallback is None


def test_the_lock_id_and_the_action_are_required() -> None:
    assert OP.request_model is models.FinalizeRequest
    assert {param.name for param in OP.params if param.required} == {"lock_id", "action"}


def test_the_action_is_confirm_or_release() -> None:
    (action,) = (param for param in OP.params if param.name == "action")
    assert action.check("action", "confirm") == "confirm"
    assert action.check("action", "release") == "release"
    with pytest.raises(errors.RequestValidationError) as caught:
        action.check("action", "commit")
    assert caught.value.param == "action"


def test_the_answer_names_nothing_of_the_request_so_nothing_is_echoed() -> None:
    assert OP.echoes == ()
    assert OP.response_model is models.FinalizeResponse
    assert set(models.FinalizeResponse.model_fields) == {"success"}
    assert OP.parse(b'{"success": true}').success is True


def test_the_docs_example_holds_a_lock_first_under_the_example_lock_id() -> None:
    assert OP.example_setup is not None
    assert "balances.check(" in OP.example_setup
    lock_id = models.FinalizeRequest.model_fields["lock_id"].examples
    assert lock_id
    assert f'"lock_id": "{lock_id[0]}"' in OP.example_setup
