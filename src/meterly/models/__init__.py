"""Every request and response model of the Meterly API, one module each.

A model's module is imported on first access (`models.CheckResponse`), so `import meterly` builds none.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .balance import Balance
    from .balancescheckrequest import BalancesCheckRequest, BalancesCheckRequestTypedDict
    from .breakdown import Breakdown
    from .checkresponse import CheckResponse
    from .customerrollover import CustomerRollover
    from .errordetail import ErrorDetail
    from .feature import Feature, FeatureType
    from .flag import Flag
    from .preview import Preview, PreviewScenario
    from .previewproduct import PreviewProduct
    from .price import BillingMethod, Price
    from .reset import Reset, ResetInterval
    from .security import Security
    from .usagecheck import ConsumptionModel, UsageCheck, UsageDenyReason
    from .usagecheckrequest import UsageCheckRequest, UsageCheckRequestTypedDict
    from .usagecheckresponse import UsageCheckResponse

__all__ = [
    "Balance",
    "BalancesCheckRequest",
    "BalancesCheckRequestTypedDict",
    "BillingMethod",
    "Breakdown",
    "CheckResponse",
    "ConsumptionModel",
    "CustomerRollover",
    "ErrorDetail",
    "Feature",
    "FeatureType",
    "Flag",
    "Preview",
    "PreviewProduct",
    "PreviewScenario",
    "Price",
    "Reset",
    "ResetInterval",
    "Security",
    "UsageCheck",
    "UsageCheckRequest",
    "UsageCheckRequestTypedDict",
    "UsageDenyReason",
    "UsageCheckResponse",
]

_MODULES = {
    "Balance": "balance",
    "BalancesCheckRequest": "balancescheckrequest",
    "BalancesCheckRequestTypedDict": "balancescheckrequest",
    "Breakdown": "breakdown",
    "CheckResponse": "checkresponse",
    "CustomerRollover": "customerrollover",
    "ErrorDetail": "errordetail",
    "Feature": "feature",
    "FeatureType": "feature",
    "Flag": "flag",
    "Preview": "preview",
    "PreviewScenario": "preview",
    "PreviewProduct": "previewproduct",
    "BillingMethod": "price",
    "Price": "price",
    "Reset": "reset",
    "ResetInterval": "reset",
    "Security": "security",
    "ConsumptionModel": "usagecheck",
    "UsageCheck": "usagecheck",
    "UsageDenyReason": "usagecheck",
    "UsageCheckRequest": "usagecheckrequest",
    "UsageCheckRequestTypedDict": "usagecheckrequest",
    "UsageCheckResponse": "usagecheckresponse",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
