"""A stateful, in-memory Meterly for demos and for testing apps: `SandboxEngine` holds customers,
features, plans and balances; `SandboxTransport` plugs it into httpx without sockets; `Sandbox` serves
it on 127.0.0.1; `python -m meterly.sandbox` serves it from the shell. Standard library plus httpx only,
and never imported by `import meterly`.

Inside, each layer imports only those before it:
- `_clock`, `_state` (the data), `_ledger` (balance arithmetic), `_world` (what a sandbox holds), `_seed`:
  nothing of HTTP;
- `_http` (what every route shares), `services/` (one module per service: where it serves, its
  envelope, its error shape, whether it honours `Idempotency-Key`, older paths it still routes; and
  `commet_routes`, Commet's routes the SDK has no operation for), `operations/` (one module per
  operation of the registry: its handler, its body read by a parser compiled from the request model;
  `_tracking` is what Autumn's track routes share), `_routes`, `_idempotency` (Commet's 24-hour replay);
- `_engine` (a world behind those contracts), then its front ends `_transport`, `_server`, `__main__`.
"""

from meterly.sandbox._clock import SandboxClock
from meterly.sandbox._engine import COMMET_API_KEY, DEFAULT_API_KEY, SandboxCall, SandboxEngine
from meterly.sandbox._faults import Faults
from meterly.sandbox._http import SandboxResponse
from meterly.sandbox._seed import DEMO_SEED
from meterly.sandbox._server import Sandbox
from meterly.sandbox._state import PlanFeature, PriceRule, RolloverRule
from meterly.sandbox._transport import SandboxTransport

__all__ = [
    "COMMET_API_KEY",
    "DEFAULT_API_KEY",
    "DEMO_SEED",
    "Faults",
    "PlanFeature",
    "PriceRule",
    "RolloverRule",
    "Sandbox",
    "SandboxCall",
    "SandboxClock",
    "SandboxEngine",
    "SandboxResponse",
    "SandboxTransport",
]
