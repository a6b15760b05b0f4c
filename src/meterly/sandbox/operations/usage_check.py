"""`usage.check` (Commet): whether a customer may consume a quantity of a feature, in one of Commet's
three consumption models (metered, credits, balance). `quantity` is optional (default 1), as Commet's own
client treats it."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Dict, cast

from meterly.sandbox._ledger import available, left
from meterly.sandbox._state import ZERO, json_number
from meterly.sandbox._world import World
from meterly.sandbox.operations import Parse, read_object
from meterly.sandbox.operations._body import Body, found


def read_body(raw: Any, parse: Parse) -> Body:
    """Commet's `quantity` is optional: a check without one asks for one unit."""
    if isinstance(raw, dict) and "quantity" not in raw:
        raw = {**cast(Dict[str, Any], raw), "quantity": 1}
    return read_object(raw, parse)


def handle(world: World, body: Body) -> Dict[str, Any]:
    customer = found(body, "customer_id", world.customer)
    feature = found(body, "feature_code", world.feature)
    quantity = body.whole("quantity")
    source = world.source(customer, feature, None)
    answer: Dict[str, Any] = {
        "allowed": False,
        "subscriptionStatus": "active" if customer.plans or customer.entries else "none",
        "featureCode": feature.id,
        "quantity": quantity,
    }
    if source is None or source.feature.type == "boolean":
        # Commet answers every check in one of its three variants: a boolean feature, or one the plan
        # lacks, in the metered one (a flag is unlimited while the customer has it).
        answer["allowed"] = source is not None
        answer.update(
            consumptionModel="metered",
            current=0,
            remaining=0,
            included=0,
            unlimited=source is not None,
            overageEnabled=False,
            overageUnitPrice=None,
        )
        if source is None:
            answer.update(
                reason="feature_not_included", message=f"{feature.name} is not included in the plan"
            )
        return {**answer, "object": "usage_check"}
    entries = source.entries
    needed = Decimal(quantity) * source.cost
    room = available(entries)
    allowed = room is None or room >= needed
    unlimited = any(e.unlimited for e in entries)
    rest = left(entries)
    answer["allowed"] = allowed
    if source.feature.type == "credit_system" and source.feature.currency is not None:
        answer.update(
            consumptionModel="balance",
            unitPrice=json_number(source.cost),
            estimatedAmount=json_number(needed),
            currentBalance=json_number(rest),
            blockOnExhaustion=not any(e.overage_allowed for e in entries),
            currency=source.feature.currency,
            unlimited=unlimited,
        )
        reason, message = (
            "insufficient_balance",
            f"the balance does not cover {json_number(needed)} {source.feature.currency}",
        )
    elif source.feature.type == "credit_system":
        purchased = sum((e.remaining for e in entries if e.prepaid > 0 and e.included == 0), ZERO)
        # Commet counts whole credits: a fractional cost (from an Autumn-style catalog) rounds up.
        answer.update(
            consumptionModel="credits",
            creditsPerUnit=math.ceil(source.cost),
            estimatedCredits=math.ceil(needed),
            planCredits=math.floor(rest - purchased),
            purchasedCredits=math.floor(purchased),
            totalCredits=math.floor(rest),
            unlimited=unlimited,
        )
        reason, message = "insufficient_credits", f"{json_number(needed)} credits are needed"
    else:
        prices = [e.price for e in entries if e.price is not None]
        answer.update(
            consumptionModel="metered",
            current=json_number(sum((e.usage for e in entries), ZERO)),
            remaining=json_number(rest),
            included=json_number(sum((e.granted for e in entries if not e.unlimited), ZERO)),
            unlimited=unlimited,
            overageEnabled=any(e.overage_allowed for e in entries),
            overageUnitPrice=None,
        )
        if prices:
            answer.update(overageUnitPrice=json_number(prices[0].unit_price()), currency="usd")
        reason, message = "included_limit_reached", f"the included {feature.name} are used up"
    if not allowed:
        answer.update(reason=reason, message=message)
    return {**answer, "object": "usage_check"}
