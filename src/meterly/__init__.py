"""Meterly: fast, typed balance and usage checks for Python apps."""

from meterly import errors, models, types, utils
from meterly._config import SERVERS
from meterly._fail_open import FailOpenPolicy
from meterly._raw import RawResponse
from meterly._version import __version__
from meterly.sdk import AsyncMeterly, Meterly
from meterly.types import UNSET
from meterly.utils import BackoffStrategy, RetryConfig

__all__ = [
    "SERVERS",
    "UNSET",
    "AsyncMeterly",
    "BackoffStrategy",
    "FailOpenPolicy",
    "Meterly",
    "RawResponse",
    "RetryConfig",
    "__version__",
    "errors",
    "models",
    "types",
    "utils",
]
