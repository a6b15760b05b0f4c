"""The generated constructors (`meterly._constructors`): one resource attribute per resource of the
registry, bound to the client (and to each view). The keyword TypedDicts: tests/unit/test_keywords.py."""

from __future__ import annotations

import inspect
import typing
from typing import Any, Iterator

import pytest

from meterly import AsyncMeterly, Meterly
from meterly._registry import resources
from tests.conftest import API_KEY

CLIENTS = [Meterly, AsyncMeterly]


@pytest.fixture(params=CLIENTS, ids=lambda cls: cls.__name__)
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    made = request.param(api_key=API_KEY)
    yield made
    if isinstance(made, Meterly):
        made.close()


def test_each_resource_of_the_registry_is_an_attribute_served_by_the_client(client: Any) -> None:
    hints = typing.get_type_hints(type(client))
    for name in resources():
        resource = getattr(client, name)
        assert isinstance(resource, hints[name])
        assert resource._sdk is client


def test_a_views_resources_are_served_by_the_view(client: Any) -> None:
    view = client.with_options(timeout_ms=500)
    for name in resources():
        assert getattr(view, name)._sdk is view
        assert getattr(client, name)._sdk is client


def test_the_clients_declare_no_resource_the_registry_lacks() -> None:
    for client in CLIENTS:
        declared = {
            name for name, hint in typing.get_type_hints(client).items() if hasattr(hint, "with_raw_response")
        }
        assert declared <= set(resources())


def test_both_clients_take_the_same_with_options_keywords() -> None:
    assert inspect.signature(Meterly.with_options).parameters.keys() == (
        inspect.signature(AsyncMeterly.with_options).parameters.keys()
    )
