"""The `is_fallback` marker shared by the answers that fail-open can make up."""

from typing import Any, Dict, Iterator, Literal, Optional, Tuple

from meterly.types import BaseModel

FallbackReason = Literal["timeout", "connection", "server_error", "not_json", "circuit_open", "last_known"]
"""Why an answer was made up: the last attempt timed out, got no response, got a 5xx, got a 2xx that is
not JSON (its content type says otherwise, or it does not parse: a captive portal or a misrouted proxy,
not the service), or was never made because the operation's circuit breaker is open; or, `last_known`,
the call failed and this is the last real answer seen for the same customer, feature and entity
(`FailOpenPolicy.last_known_max_age_ms`)."""

_REASON = "_fallback_reason"
_USAGE_RECORDED = "_usage_recorded"
_DEGRADED = "_degraded"


class FallbackAware(BaseModel):
    """A response the SDK may have made up under `fail_open`; the marker is never serialized.

    The marker is private state that only made-up answers carry (`mark_fallback`). It is not a declared
    `PrivateAttr`: one would make pydantic run Python code to initialise it on every parsed response.
    Copies, pickles and `==` keep it, as they keep any private state.
    """

    def __repr_args__(self) -> Iterator[Tuple[Optional[str], Any]]:
        # The fields, then every marker property (`is_fallback`, `fallback_reason`, and any a subclass
        # adds, such as `is_degraded`): a made-up answer must not print like a real one.
        yield from super().__repr_args__()
        for name in _marker_names(type(self)):
            yield name, getattr(self, name)

    @property
    def is_fallback(self) -> bool:
        """True when the SDK made this answer up because the service failed (`fail_open`)."""
        return self.fallback_reason is not None

    @property
    def fallback_reason(self) -> Optional[FallbackReason]:
        """Why the SDK answered on its own: `timeout`, `connection`, `server_error`, `not_json` (a 2xx
        that was not the service's JSON), `circuit_open`, or `last_known` (a copy of the last real
        answer for the same customer, feature and entity).

        None for a real answer.
        """
        private = self.__pydantic_private__
        return private.get(_REASON) if private else None


_MARKERS: Dict[type, Tuple[str, ...]] = {}


def _marker_names(cls: type) -> Tuple[str, ...]:
    """The properties a `FallbackAware` class and its bases declare, in definition order (cached)."""
    names = _MARKERS.get(cls)
    if names is None:
        found: Dict[str, None] = {}
        for klass in reversed(cls.__mro__):
            if isinstance(klass, type) and issubclass(klass, FallbackAware):
                props = [name for name, value in vars(klass).items() if isinstance(value, property)]
                found.update(dict.fromkeys(props))
        names = _MARKERS[cls] = tuple(found)
    return names


def mark_fallback(
    answer: FallbackAware, reason: FallbackReason, usage_recorded: Optional[bool] = False
) -> None:
    """Marks `answer` as made up by the SDK for `reason`; `usage_recorded` is False when the call
    certainly recorded nothing, None when a write of it may have reached the service."""
    object.__setattr__(answer, "__pydantic_private__", {_REASON: reason, _USAGE_RECORDED: usage_recorded})


def usage_recorded(answer: FallbackAware) -> Optional[bool]:
    """What a made-up answer says about usage (`mark_fallback`); None for a real answer."""
    private = answer.__pydantic_private__
    return private.get(_USAGE_RECORDED) if private else None


def is_degraded(answer: FallbackAware) -> bool:
    """True when `answer` came in a 202: the service's own degraded, fail-open answer."""
    private = answer.__pydantic_private__
    return bool(private and private.get(_DEGRADED))


def mark_degraded(answer: object) -> None:
    """Marks a parsed 202 answer as the service's degraded fail-open; other results are left as they are."""
    if isinstance(answer, FallbackAware):
        private = answer.__pydantic_private__
        object.__setattr__(answer, "__pydantic_private__", {**(private or {}), _DEGRADED: True})
