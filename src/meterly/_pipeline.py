"""The request pipeline of one client: `prepare` (before any I/O, `meterly._prepare`), then `run` (the
attempt loop, `meterly._attempts`), written once for both clients, which only drive it."""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

from meterly._attempts import AttemptLoop
from meterly._config import SDKConfiguration
from meterly._declaration import Operation
from meterly._hooks import SDKHooks
from meterly._options import CallOptions
from meterly._prepare import Preparer
from meterly._wire import Call

__all__ = ["Pipeline"]

T = TypeVar("T")


class Pipeline(AttemptLoop):
    """Everything between a resource method and the HTTP client, for one SDK client."""

    def __init__(self, config: SDKConfiguration, hooks: SDKHooks) -> None:
        fail_open = None
        policy = config.fail_open_policy
        if policy is not None:
            from meterly._fail_open import FailOpen  # loaded only by clients that fail open

            fail_open = FailOpen(policy)
        super().__init__(hooks, fail_open=fail_open, debug_logger=config.debug_logger)
        self.config = config
        self._preparer = Preparer(config)

    def prepare(self, op: Operation[T], args: Mapping[str, Any], *, options: CallOptions) -> Call:
        """Check every argument and build the call; raises RequestValidationError before any I/O.

        `args` holds the body parameters by Python name (a resource method passes its `locals()`).
        """
        return self._preparer.prepare(op, args, options=options)
