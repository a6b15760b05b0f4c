"""`CallOptions`: a call's options as one keyword-only object, read from a resource method's arguments."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from meterly._options import CallOptions, options_of
from meterly.types import UNSET
from meterly.utils import BackoffStrategy, RetryConfig

NONE_SET: Dict[str, Any] = {
    "idempotency_key": None,
    "retries": UNSET,
    "server_url": None,
    "timeout_ms": None,
    "http_headers": None,
}


def test_the_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        CallOptions("key")  # type: ignore[misc]


def test_names_and_docs_list_the_same_options() -> None:
    assert CallOptions.NAMES == set(CallOptions.DOCS) == set(NONE_SET)


def test_a_call_that_sets_no_option_shares_one_instance() -> None:
    first = options_of({**NONE_SET, "customer_id": "cus_1"})
    assert first is options_of(dict(NONE_SET))
    assert first.retries is UNSET


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("idempotency_key", "order-42"),
        ("retries", None),
        ("retries", RetryConfig("backoff", BackoffStrategy(1, 2, 2.0, 10), False)),
        ("server_url", "http://127.0.0.1:1"),
        ("timeout_ms", 250),
        ("http_headers", {"x-trace": "1"}),
    ],
)
def test_each_option_set_by_the_caller_is_read_from_the_arguments(name: str, value: Any) -> None:
    options = options_of({**NONE_SET, name: value})
    assert getattr(options, name) is value
    assert options is not options_of(dict(NONE_SET))


def test_the_repr_shows_header_names_but_never_their_values() -> None:
    options = CallOptions(idempotency_key="k", http_headers={"authorization": "Bearer sk_secret"})
    assert "sk_secret" not in repr(options)
    assert "http_headers=['authorization']" in repr(options)
    assert "idempotency_key='k'" in repr(options)
