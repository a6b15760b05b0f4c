"""`Security`: per-scheme API keys."""

from typing import TYPE_CHECKING, Any, Optional

import pydantic
from pydantic import Field
from typing_extensions import Annotated

from meterly.errors import RequestValidationError
from meterly.types import BaseModel


class Security(BaseModel):
    """Keys per security scheme; a scheme left unset falls back to the client's `api_key`.

    A wrong field is a `RequestValidationError` naming it (`Security.bearer_auth`), never showing the
    value given: it may be a key.
    """

    bearer_auth: Annotated[Optional[str], Field(repr=False)] = None
    """Sent as `Authorization: Bearer <key>` (balances.check)."""

    api_key_auth: Annotated[Optional[str], Field(repr=False)] = None
    """Sent as `x-api-key: <key>` (usage.check)."""

    if not TYPE_CHECKING:  # type checkers keep the signature pydantic derives from the fields

        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except pydantic.ValidationError as exc:
                raise _invalid(exc) from None


def _invalid(exc: pydantic.ValidationError) -> RequestValidationError:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return RequestValidationError(f"Security.{where}" if where else "Security", first["msg"])
