"""Every request and response model of the Meterly API, one module each."""

from .balance import Balance
from .balancescheckrequest import BalancesCheckRequest, BalancesCheckRequestTypedDict
from .breakdown import Breakdown
from .checkresponse import CheckResponse
from .customerrollover import CustomerRollover
from .errordetail import ErrorDetail
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
