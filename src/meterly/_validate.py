"""Checks of constructor options that have no other home; each raises `RequestValidationError` naming
the option, at construction, so a mistake never surfaces as an internal error at the first call."""

from __future__ import annotations

import logging
from typing import Optional

from meterly.errors import RequestValidationError


def check_debug_logger(debug_logger: object) -> Optional[logging.Logger]:
    """`debug_logger` when it is None or a `logging.Logger`."""
    if debug_logger is None or isinstance(debug_logger, logging.Logger):
        return debug_logger
    raise RequestValidationError(
        "debug_logger", f"must be a logging.Logger or None, got {type(debug_logger).__name__}"
    )
