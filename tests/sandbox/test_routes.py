"""The routes: every operation of the registry at its path, under each prefix of its service."""

from __future__ import annotations

from meterly._registry import OPERATIONS
from meterly.sandbox._routes import ROUTES, service_of
from meterly.sandbox.services import autumn, commet


def test_the_routes_are_the_registry_s_and_commet_s_also_under_api() -> None:
    expected = {op.path: op.operation_id for op in OPERATIONS}
    expected.update({"/api" + op.path: op.operation_id for op in OPERATIONS if op.envelope is not None})
    assert {path: op.operation_id for path, op in ROUTES.items()} == expected
    assert ROUTES["/api/v1/usage/check"].operation_id == "usageCheck"


def test_an_operation_belongs_to_commet_when_its_answer_comes_in_an_envelope() -> None:
    for op in OPERATIONS:
        assert service_of(op) is (commet.SERVICE if op.envelope is not None else autumn.SERVICE)
