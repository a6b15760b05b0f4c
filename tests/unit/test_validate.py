"""Checks of constructor options without another home: `debug_logger`."""

from __future__ import annotations

import logging

import pytest

from meterly import errors
from meterly._validate import check_debug_logger


@pytest.mark.parametrize("value", [None, logging.getLogger("tests.meterly")])
def test_none_or_a_logger_is_accepted_as_it_is(value: object) -> None:
    assert check_debug_logger(value) is value


def test_anything_else_is_refused_naming_the_option_and_the_type() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        check_debug_logger(print)
    assert caught.value.param == "debug_logger"
    assert "builtin_function_or_method" in str(caught.value)
