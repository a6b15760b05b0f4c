"""Every request and response model of the Meterly API, one module each.

A model's module is imported on first access (`models.CheckResponse`), so `import meterly` builds none.
Written by `make gen` (scripts/gen.py) from the model modules: a new module is exported by it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .balance import Balance
    from .balancescheckrequest import BalancesCheckRequest
    from .breakdown import Breakdown
    from .checkresponse import CheckResponse
    from .customerrollover import CustomerRollover
    from .errordetail import ErrorDetail
    from .feature import Feature, FeatureType
    from .finalizerequest import FinalizeAction, FinalizeRequest, FinalizeResponse
    from .flag import Flag
    from .flushresult import FlushResult
    from .lock import Lock, LockOverageBehavior, LockTypedDict
    from .preview import Preview, PreviewScenario
    from .previewproduct import PreviewProduct
    from .price import BillingMethod, Price
    from .queued import Queued
    from .requestdicts import (
        BalancesCheckRequestTypedDict,
        FinalizeRequestTypedDict,
        TrackRequestTypedDict,
        TrackTokensRequestTypedDict,
        UsageCheckRequestTypedDict,
        UsageTrackRequestTypedDict,
    )
    from .reset import Reset, ResetInterval
    from .security import Security
    from .trackevent import BatchTrackResponse, TrackEvent, TrackEventTypedDict
    from .trackrequest import OverageBehavior, TrackRequest, UnixMillis
    from .trackresponse import TrackDeduction, TrackResponse
    from .tracktokensrequest import TrackTokensRequest
    from .usagecheck import ConsumptionModel, UsageCheck, UsageDenyReason
    from .usagecheckrequest import UsageCheckRequest
    from .usagecheckresponse import UsageCheckResponse
    from .usageevent import UsageEvent
    from .usageeventconsumption import UsageEventConsumption, UsageEventConsumptionModel
    from .usageeventproperty import UsageEventProperty
    from .usagetrackrequest import UsageTrackRequest
    from .usagetrackresponse import UsageTrackResponse

__all__ = [
    "Balance",
    "BalancesCheckRequest",
    "BalancesCheckRequestTypedDict",
    "BatchTrackResponse",
    "BillingMethod",
    "Breakdown",
    "CheckResponse",
    "ConsumptionModel",
    "CustomerRollover",
    "ErrorDetail",
    "Feature",
    "FeatureType",
    "FinalizeAction",
    "FinalizeRequest",
    "FinalizeRequestTypedDict",
    "FinalizeResponse",
    "Flag",
    "FlushResult",
    "Lock",
    "LockOverageBehavior",
    "LockTypedDict",
    "OverageBehavior",
    "Preview",
    "PreviewProduct",
    "PreviewScenario",
    "Price",
    "Queued",
    "Reset",
    "ResetInterval",
    "Security",
    "TrackDeduction",
    "TrackEvent",
    "TrackEventTypedDict",
    "TrackRequest",
    "TrackRequestTypedDict",
    "TrackResponse",
    "TrackTokensRequest",
    "TrackTokensRequestTypedDict",
    "UnixMillis",
    "UsageCheck",
    "UsageCheckRequest",
    "UsageCheckRequestTypedDict",
    "UsageCheckResponse",
    "UsageDenyReason",
    "UsageEvent",
    "UsageEventConsumption",
    "UsageEventConsumptionModel",
    "UsageEventProperty",
    "UsageTrackRequest",
    "UsageTrackRequestTypedDict",
    "UsageTrackResponse",
]

_MODULES = {
    "Balance": "balance",
    "BalancesCheckRequest": "balancescheckrequest",
    "BalancesCheckRequestTypedDict": "requestdicts",
    "BatchTrackResponse": "trackevent",
    "BillingMethod": "price",
    "Breakdown": "breakdown",
    "CheckResponse": "checkresponse",
    "ConsumptionModel": "usagecheck",
    "CustomerRollover": "customerrollover",
    "ErrorDetail": "errordetail",
    "Feature": "feature",
    "FeatureType": "feature",
    "FinalizeAction": "finalizerequest",
    "FinalizeRequest": "finalizerequest",
    "FinalizeRequestTypedDict": "requestdicts",
    "FinalizeResponse": "finalizerequest",
    "Flag": "flag",
    "FlushResult": "flushresult",
    "Lock": "lock",
    "LockOverageBehavior": "lock",
    "LockTypedDict": "lock",
    "OverageBehavior": "trackrequest",
    "Preview": "preview",
    "PreviewProduct": "previewproduct",
    "PreviewScenario": "preview",
    "Price": "price",
    "Queued": "queued",
    "Reset": "reset",
    "ResetInterval": "reset",
    "Security": "security",
    "TrackDeduction": "trackresponse",
    "TrackEvent": "trackevent",
    "TrackEventTypedDict": "trackevent",
    "TrackRequest": "trackrequest",
    "TrackRequestTypedDict": "requestdicts",
    "TrackResponse": "trackresponse",
    "TrackTokensRequest": "tracktokensrequest",
    "TrackTokensRequestTypedDict": "requestdicts",
    "UnixMillis": "trackrequest",
    "UsageCheck": "usagecheck",
    "UsageCheckRequest": "usagecheckrequest",
    "UsageCheckRequestTypedDict": "requestdicts",
    "UsageCheckResponse": "usagecheckresponse",
    "UsageDenyReason": "usagecheck",
    "UsageEvent": "usageevent",
    "UsageEventConsumption": "usageeventconsumption",
    "UsageEventConsumptionModel": "usageeventconsumption",
    "UsageEventProperty": "usageeventproperty",
    "UsageTrackRequest": "usagetrackrequest",
    "UsageTrackRequestTypedDict": "requestdicts",
    "UsageTrackResponse": "usagetrackresponse",
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
