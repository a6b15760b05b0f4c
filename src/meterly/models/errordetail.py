"""`ErrorDetail`: the `error` object of the enveloped error shape."""

from typing import Any, Optional

from meterly.types import UNSET, BaseModel, OptionalNullable


class ErrorDetail(BaseModel):
    """What went wrong, in `{"success": false, "error": {...}}` bodies."""

    type: Optional[str] = None
    """The error's category, e.g. `invalid_request_error`."""

    code: Optional[str] = None
    """A machine-readable code, e.g. `customer_not_found`."""

    message: Optional[str] = None
    """A readable explanation."""

    param: OptionalNullable[str] = UNSET
    """The request parameter at fault, if any; null when no single parameter is."""

    details: Optional[Any] = None
    """Further structured information."""

    doc_url: Optional[str] = None
    """A page that explains the error."""
