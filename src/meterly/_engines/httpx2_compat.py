"""The httpx2 engine's one use of private attributes: the same deadline backends as `httpx_compat`,
over httpcore2, put under the pools of the httpx2 clients the SDK sends on (its own and injected ones,
passing straight through outside an SDK attempt). Guarded to httpcore2 2.x (`SUPPORTED_HTTPCORE2`); any
other keeps per-operation timeouts and the body deadline, and
`tests/unit/engines/test_httpx2_compat.py` fails.
"""

from __future__ import annotations

from typing import Any

import httpcore2

from meterly._engines.httpx_compat import bound_with, supported_version

__all__ = ["SUPPORTED_HTTPCORE2", "bound_by_deadline", "supported"]

SUPPORTED_HTTPCORE2 = (2,)
"""The httpcore2 major versions whose `HTTPTransport._pool._network_backend` layout this module knows."""


def supported() -> bool:
    return supported_version(httpcore2.__version__, SUPPORTED_HTTPCORE2)


def bound_by_deadline(client: Any) -> bool:
    """`httpx_compat.bound_by_deadline` for an `httpx2.Client` or `httpx2.AsyncClient`."""
    return supported() and bound_with(httpcore2, client)
