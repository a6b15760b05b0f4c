"""The `meterly` logger, and `METERLY_LOG=debug|info` to switch it on without touching code."""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from typing import Optional

LOG_ENV = "METERLY_LOG"

logger = logging.getLogger("meterly")
"""Fail-open warnings always go here; per-attempt lines too, at DEBUG, when it is enabled for DEBUG."""

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_lock = threading.Lock()
_env_handler: Optional[logging.Handler] = None
_reported: Optional[str] = None
"""The unknown `METERLY_LOG` value already warned about, so a process warns once, not per client."""


class MeterlyLogWarning(UserWarning):
    """`METERLY_LOG` names no level this SDK knows, so it switches nothing on."""


def level_from_env() -> Optional[int]:
    """The level `METERLY_LOG` asks for, or None when it is unset or names no level this SDK knows.

    An unknown value is reported once per process with a `MeterlyLogWarning` naming the valid ones: a
    typo such as `METERLY_LOG=degub` would otherwise look like a logger that never logs.
    """
    global _reported
    raw = os.environ.get(LOG_ENV, "")
    value = raw.strip().lower()
    level = _LEVELS.get(value)
    if level is None and value and raw != _reported:
        _reported = raw
        warnings.warn(
            f"{LOG_ENV}={raw!r} is not a level this SDK knows, so it is ignored; "
            f"use one of: {', '.join(sorted(_LEVELS))}",
            MeterlyLogWarning,
            stacklevel=2,
        )
    return level


def configure_from_env() -> None:
    """Attach a stderr handler to the `meterly` logger at the `METERLY_LOG` level, once per process.

    Called when a client is built (never at import), so setting the variable is enough: no code.
    """
    global _env_handler
    if _env_handler is not None:
        return
    level = level_from_env()
    if level is None:
        return
    with _lock:
        if _env_handler is not None:
            return
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)
        _env_handler = handler


def is_library_logger(log: logging.Logger) -> bool:
    """True for `meterly` and its children, whose records reach the `meterly` handlers anyway."""
    return log.name == "meterly" or log.name.startswith("meterly.")
