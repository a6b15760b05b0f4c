"""Testing apps that use Meterly: a pytest plugin (fixtures over the sandbox) and `without_waits`.

The plugin (`meterly.testing.plugin`) is registered through the `pytest11` entry point, so pytest loads
it on its own; it only adds fixtures, one marker and one option, and does nothing to a test that asks
for none of its fixtures. `pip install 'meterly[pytest]'` brings pytest itself.

`OutboxRecorder` (with `DeliveredEvent`) is the type of the `meterly_outbox` fixture.

`Sandbox` and `SandboxEngine` are the types of the `meterly_server` and `meterly_engine` fixtures, for
annotating tests; they load the sandbox when first read, so loading the plugin does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meterly.testing._outbox import DeliveredEvent, OutboxRecorder
from meterly.testing._waits import VirtualTime, without_waits

if TYPE_CHECKING:
    from meterly.sandbox import Sandbox, SandboxEngine

__all__ = ["DeliveredEvent", "OutboxRecorder", "Sandbox", "SandboxEngine", "VirtualTime", "without_waits"]


def __getattr__(name: str) -> Any:
    if name in ("Sandbox", "SandboxEngine"):
        import meterly.sandbox

        return getattr(meterly.sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
