"""The routes: every operation of the registry at its path, under each prefix of its service, plus the
older paths Autumn still routes; and Commet's routes the SDK has no operation for."""

from __future__ import annotations

from meterly._registry import OPERATIONS
from meterly.sandbox._routes import ROUTES, service_of
from meterly.sandbox.services import autumn, commet, commet_routes


def test_the_routes_are_the_registry_s_and_commet_s_also_under_api() -> None:
    expected = {op.path: op.operation_id for op in OPERATIONS}
    expected.update({"/api" + op.path: op.operation_id for op in OPERATIONS if op.envelope is not None})
    expected.update(
        {"/v1/check": "balancesCheck", "/v1/entitled": "balancesCheck", "/v1/track": "balancesTrack"}
    )
    assert {path: op.operation_id for path, op in ROUTES.items()} == expected
    assert ROUTES["/api/v1/usage/check"].operation_id == "usageCheck"


def test_an_operation_belongs_to_commet_when_its_answer_comes_in_an_envelope() -> None:
    for op in OPERATIONS:
        assert service_of(op) is (commet.SERVICE if op.envelope is not None else autumn.SERVICE)


def test_commets_feature_access_and_usage_set_are_served_with_and_without_api() -> None:
    for prefix in ("", "/api"):
        found = commet_routes.match(prefix + "/v1/feature-access/sso")
        assert found is not None
        assert (found[0].name, found[1]) == ("feature_access.get", {"code": "sso"})
        listed = commet_routes.match(prefix + "/v1/feature-access")
        assert listed is not None
        assert listed[0].name == "feature_access.list"
        usage_set = commet_routes.match(prefix + "/v1/usage")
        assert usage_set is not None
        assert set(usage_set[0].handlers) == {"PUT"}
    assert commet_routes.match("/v1/usage/elsewhere") is None
