"""Meterly: fast, typed balance and usage checks for Python apps."""

from typing import TYPE_CHECKING, Any

from meterly import errors, models, types, utils
from meterly._config import SERVERS
from meterly._raw import RawResponse
from meterly._version import __version__
from meterly.sdk import AsyncMeterly, Meterly
from meterly.types import UNSET
from meterly.utils import BackoffStrategy, RetryConfig

if TYPE_CHECKING:
    from meterly._fail_open import FailOpenPolicy
    from meterly.outbox import Outbox

__all__ = [
    "SERVERS",
    "UNSET",
    "AsyncMeterly",
    "BackoffStrategy",
    "FailOpenPolicy",
    "Meterly",
    "Outbox",
    "RawResponse",
    "RetryConfig",
    "__version__",
    "errors",
    "models",
    "types",
    "utils",
]


def __getattr__(name: str) -> Any:
    # `FailOpenPolicy` (and the circuit breaker behind it) loads when first named, not at `import meterly`.
    if name == "FailOpenPolicy":
        from meterly._fail_open import FailOpenPolicy

        return FailOpenPolicy
    if name == "Outbox":  # the outbox (and sqlite3) load when first named
        from meterly.outbox import Outbox

        return Outbox
    raise AttributeError(f"module 'meterly' has no attribute {name!r}")
