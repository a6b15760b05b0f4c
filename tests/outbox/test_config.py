"""`Outbox`, the configuration: its defaults, its checks (before any I/O, naming the argument), and
`outbox_config`, which reads a client's `outbox=` argument."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meterly import errors
from meterly.outbox import Outbox
from meterly.outbox._config import outbox_config


def test_the_defaults_are_an_in_memory_outbox_that_raises_when_full() -> None:
    config = Outbox()
    assert config.path is None
    assert not config.durable
    assert (config.max_pending, config.on_full, config.on_rejected) == (100_000, "raise", None)
    assert (config.close_timeout_ms, config.batch_size) == (2000.0, 1000)
    assert (config.retry_initial_ms, config.retry_max_ms) == (250.0, 30_000.0)
    assert (config.lease_ms, config.commit_interval_ms, config.synchronous) == (30_000.0, 5.0, "normal")


def test_a_path_makes_it_durable_and_a_path_like_is_kept_as_text(tmp_path: Path) -> None:
    config = Outbox(path=tmp_path / "outbox.sqlite3")
    assert config.durable
    assert config.path == str(tmp_path / "outbox.sqlite3")
    assert repr(config) == (
        f"Outbox(path={str(tmp_path / 'outbox.sqlite3')!r}, max_pending=100000, on_full='raise', "
        "close_timeout_ms=2000)"
    )


def test_batch_size_is_capped_at_what_batch_track_takes_and_the_longest_wait_at_least_the_first() -> None:
    config = Outbox(batch_size=5000, retry_initial_ms=500, retry_max_ms=100)
    assert config.batch_size == 1000
    assert config.retry_max_ms == 500.0


def test_it_is_read_only_once_built() -> None:
    config = Outbox()
    with pytest.raises(AttributeError, match="read-only"):
        config.max_pending = 5
    assert config.max_pending == 100_000


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("path", 3),
        ("max_pending", 0),
        ("max_pending", True),
        ("max_pending", 1.5),
        ("on_full", "block"),
        ("on_rejected", "log"),
        ("close_timeout_ms", -1),
        ("close_timeout_ms", float("nan")),
        ("batch_size", 0),
        ("retry_initial_ms", 0),
        ("retry_max_ms", "1s"),
        ("lease_ms", 0),
        ("commit_interval_ms", float("inf")),
        ("synchronous", "off"),
    ],
)
def test_a_bad_field_names_itself(param: str, value: Any) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        Outbox(**{param: value})
    assert caught.value.param == param


def test_zero_is_a_commit_interval_and_a_close_timeout_but_not_a_lease() -> None:
    config = Outbox(commit_interval_ms=0, close_timeout_ms=0)
    assert (config.commit_interval_ms, config.close_timeout_ms) == (0.0, 0.0)


def test_outbox_config_reads_the_client_argument() -> None:
    assert outbox_config(None) is None
    assert outbox_config(False) is None
    default = outbox_config(True)
    assert isinstance(default, Outbox)
    assert not default.durable
    given = Outbox(max_pending=7)
    assert outbox_config(given) is given
    with pytest.raises(errors.RequestValidationError) as caught:
        outbox_config("yes")
    assert caught.value.param == "outbox"
