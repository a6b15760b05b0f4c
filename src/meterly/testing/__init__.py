"""Testing apps that use Meterly: a pytest plugin (fixtures over the sandbox) and `without_waits`.

The plugin (`meterly.testing.plugin`) is registered through the `pytest11` entry point, so pytest loads
it on its own; it only adds fixtures, one marker and one option, and does nothing to a test that asks
for none of its fixtures. `pip install 'meterly[pytest]'` brings pytest itself.
"""

from meterly.testing._waits import VirtualTime, without_waits

__all__ = ["VirtualTime", "without_waits"]
