"""`balances.finalize` (Autumn): what becomes of a hold made by `balances.check(lock=...)`: `confirm`
records it (or `override_value` units instead), `release` gives it back. A lock never made, already
finalized or expired (sandbox clock) is a 404 `lock_not_found`."""

from __future__ import annotations

from typing import Any, Dict

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._world import World
from meterly.sandbox.operations._body import Body, found


def handle(world: World, body: Body) -> Dict[str, Any]:
    confirm = body.get("action") == "confirm"
    override = body.number("override_value")
    lock_id = body.text("lock_id")
    world.expire_holds()
    if lock_id not in world.holds:
        found(body, "lock_id", lambda _: world.finalize(lock_id, confirm))  # the 404, in its words
    if override is not None and not confirm:
        raise ProtocolError(400, INVALID, "override_value goes with action confirm only", "override_value")
    if override is not None and override < 0:
        raise ProtocolError(400, INVALID, "override_value must be at least 0", "override_value")
    world.finalize(lock_id, confirm, override)
    return {"success": True}
