"""The API version each service's operations pin, and the resources each service serves."""

from __future__ import annotations

import re

from meterly._endpoints._services import (
    AUTUMN_API_VERSION,
    AUTUMN_BATCH_VERSION,
    AUTUMN_RECORDING_VERSION,
    AUTUMN_VERSION,
    COMMET_API_VERSION,
    COMMET_VERSION,
    RESOURCES,
)
from meterly._registry import OPERATIONS, resources


def test_autumn_is_pinned_by_x_api_version() -> None:
    assert AUTUMN_VERSION == ("x-api-version", AUTUMN_API_VERSION)
    assert re.fullmatch(r"\d+\.\d+", AUTUMN_API_VERSION)


def test_commet_is_pinned_by_a_dated_commet_version() -> None:
    assert COMMET_VERSION == ("commet-version", COMMET_API_VERSION)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", COMMET_API_VERSION)


def test_every_resource_of_the_registry_has_its_docstring_and_title() -> None:
    assert set(RESOURCES) == set(resources())
    for docstring, title in RESOURCES.values():
        assert docstring.startswith("`client.")
        assert title


def test_the_operations_of_one_resource_pin_one_services_version_header() -> None:
    # each Autumn operation pins the version whose published shape it implements (API.md), under one header
    for ops in resources().values():
        assert len({op.version_header.name for op in ops if op.version_header}) == 1
        assert all(op.version_header for op in ops)
    assert {op.version_header for op in OPERATIONS} == {
        AUTUMN_VERSION,
        AUTUMN_RECORDING_VERSION,
        AUTUMN_BATCH_VERSION,
        COMMET_VERSION,
    }


def test_the_recording_operations_pin_the_published_spec_and_batch_track_its_idempotency_keys() -> None:
    assert AUTUMN_RECORDING_VERSION == ("x-api-version", "2.3.0")
    assert AUTUMN_BATCH_VERSION == ("x-api-version", "2.5.0")
