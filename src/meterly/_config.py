"""A client's configuration, checked once at construction and shared by every call."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Sequence, Union, cast

import httpx
from typing_extensions import TypeGuard

# is_header_safe is re-exported for the pipeline, which checks header values with it.
from meterly._text import has_control_chars
from meterly._text import is_header_safe as is_header_safe
from meterly._validate import check_debug_logger
from meterly._version import __version__
from meterly.errors import RequestValidationError, shown
from meterly.types import Unset
from meterly.utils.retries import DEFAULT_RETRY_CONFIG, RetryConfig

if TYPE_CHECKING:
    from meterly._fail_open import FailOpenPolicy
    from meterly.models.security import Security

SERVERS = ["https://api.meterly.dev"]
"""The servers `server_idx` chooses from."""

API_KEY_ENV = "METERLY_API_KEY"
SERVER_URL_ENV = "METERLY_SERVER_URL"

DEFAULT_TIMEOUT_MS = 1_000
"""Per-attempt timeout of the HTTP clients the SDK creates itself (cut to what is left of the call's
deadline, `BackoffStrategy.max_elapsed_time`)."""

USER_AGENT = "meterly-python/{} python/{}.{}.{} httpx/{}".format(
    __version__, *sys.version_info[:3], httpx.__version__
)

ApiKey = Union[str, Callable[[], str]]
SecuritySource = Union["Security", Callable[[], "Security"]]


def check_server_url(param: str, url: object) -> str:
    """The URL without a trailing slash, or a RequestValidationError naming `param`."""
    problem = RequestValidationError(
        param, f"must be an http:// or https:// URL with a host, got {shown(url)}"
    )
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or has_control_chars(url):
        raise problem
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError):
        raise problem from None
    if not host:
        raise problem
    return url.rstrip("/")


def _per_resource(param: str, value: object, resources: Sequence[str]) -> Dict[str, Any]:
    """`value` as a dict keyed by the client's resource names, or a RequestValidationError naming `param`."""
    if value is None:
        return {}
    names = ", ".join(resources)
    if not isinstance(value, Mapping):
        raise RequestValidationError(param, f"must be a dict keyed by resource ({names})")
    mapping = cast("Mapping[object, object]", value)
    unknown = [key for key in mapping if key not in resources]
    if unknown:
        raise RequestValidationError(
            param, f"unknown resource {shown(unknown[0])}; the resources are {names}"
        )
    return {str(key): item for key, item in mapping.items()}


def check_server_urls(server_urls: object, resources: Sequence[str]) -> Dict[str, str]:
    """`server_urls` as {resource: URL without a trailing slash}; raises RequestValidationError."""
    return {
        resource: check_server_url(f"server_urls[{resource!r}]", url)
        for resource, url in _per_resource("server_urls", server_urls, resources).items()
    }


def check_api_versions(api_versions: object, resources: Sequence[str]) -> Dict[str, str]:
    """`api_versions` as {resource: version}; a version is a non-empty ASCII str without control
    characters (it goes in a header as is)."""
    checked: Dict[str, str] = {}
    for resource, version in _per_resource("api_versions", api_versions, resources).items():
        if not isinstance(version, str) or not version or not is_header_safe(version):
            raise RequestValidationError(
                f"api_versions[{resource!r}]",
                f"must be a non-empty ASCII str without control characters, got {shown(version)}",
            )
        checked[resource] = version
    return checked


def exposed_host(url: httpx.URL) -> Optional[str]:
    """The host when `url` would carry a key in clear text off this machine (plain http, not loopback)."""
    if url.scheme != "http":
        return None
    host = url.host
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return host


MAX_TIMEOUT_MS = 86_400_000
"""The longest timeout an attempt may be given (a day): longer ones overflow the clocks of sockets."""


def timeout_from_ms(param: str, timeout_ms: object) -> httpx.Timeout:
    """An httpx timeout for one attempt; never None, so a timeout can't be switched off by accident."""
    if (
        isinstance(timeout_ms, bool)
        or not isinstance(timeout_ms, int)
        or not 0 < timeout_ms <= MAX_TIMEOUT_MS
    ):
        problem = f"must be a whole number of milliseconds, 1 to {MAX_TIMEOUT_MS}, got {shown(timeout_ms)}"
        raise RequestValidationError(param, problem)
    return httpx.Timeout(timeout_ms / 1000)


def _is_fail_open_policy(value: object) -> TypeGuard[FailOpenPolicy]:
    from meterly._fail_open import FailOpenPolicy

    return isinstance(value, FailOpenPolicy)


def _is_security(value: object) -> bool:
    from meterly.models.security import Security  # imported only by clients that pass `security`

    return isinstance(value, Security)


class SDKConfiguration:
    """What a client was built with (read-only); `api_key` and `security` are never shown in its repr."""

    __slots__ = (
        "api_key",
        "api_versions",
        "debug_logger",
        "fail_open",
        "fail_open_policy",
        "retry_config",
        "security",
        "server_url",
        "server_urls",
        "timeout",
    )

    server_url: str
    server_urls: Dict[str, str]
    """Servers of single resources (`{"usage": "https://commet.co/api"}`), in place of `server_url`."""
    api_versions: Dict[str, str]
    """API versions of single resources, in place of each operation's default version header."""
    retry_config: Optional[RetryConfig]
    timeout: Optional[httpx.Timeout]
    fail_open: Union[bool, FailOpenPolicy]
    debug_logger: Optional[logging.Logger]
    api_key: Optional[ApiKey]
    security: Optional[SecuritySource]
    fail_open_policy: Optional[FailOpenPolicy]
    """`fail_open` as a policy: `True` is `FailOpenPolicy()`, `False` is None."""

    def __init__(
        self,
        *,
        server_url: str,
        retry_config: Optional[RetryConfig],
        timeout: Optional[httpx.Timeout],
        fail_open: Union[bool, FailOpenPolicy],
        debug_logger: Optional[logging.Logger],
        api_key: Optional[ApiKey] = None,
        security: Optional[SecuritySource] = None,
        fail_open_policy: Optional[FailOpenPolicy] = None,
        server_urls: Optional[Dict[str, str]] = None,
        api_versions: Optional[Dict[str, str]] = None,
    ) -> None:
        # A plain class rather than a frozen dataclass: building dataclasses slows `import meterly`.
        for name, value in (
            ("server_url", server_url),
            ("retry_config", retry_config),
            ("timeout", timeout),
            ("fail_open", fail_open),
            ("debug_logger", debug_logger),
            ("api_key", api_key),
            ("security", security),
            ("fail_open_policy", fail_open_policy),
            ("server_urls", server_urls or {}),
            ("api_versions", api_versions or {}),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SDKConfiguration is read-only; create a new client to change {name}")

    def __repr__(self) -> str:
        return (
            f"SDKConfiguration(server_url={self.server_url!r}, server_urls={self.server_urls!r}, "
            f"api_versions={self.api_versions!r}, retry_config={self.retry_config!r}, "
            f"timeout={self.timeout!r}, fail_open={self.fail_open!r}, debug_logger={self.debug_logger!r})"
        )

    def replace(self, **changes: Any) -> SDKConfiguration:
        """A copy with some fields changed (`with_options`); every other field is shared."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"SDKConfiguration has no field {sorted(unknown)[0]!r}")
        return SDKConfiguration(**{**fields, **changes})

    @classmethod
    def create(cls, options: Mapping[str, Any], resources: Sequence[str] = ()) -> SDKConfiguration:
        """The configuration of a client built with `options` (its constructor's arguments by name; every
        name of `meterly._client_options.CONFIG_OPTIONS`), each validated here. `resources` are the names
        `server_urls` and `api_versions` may be keyed by (the registry's, passed down by the client)."""
        api_key = options["api_key"]
        security = options["security"]
        server_url = options["server_url"]
        server_idx = options["server_idx"]
        timeout_ms = options["timeout_ms"]
        fail_open = options["fail_open"]
        if api_key is None and security is None:
            api_key = os.environ.get(API_KEY_ENV) or None
        if api_key is not None and not (isinstance(api_key, str) or callable(api_key)):
            raise RequestValidationError("api_key", "must be a string or a callable returning one")
        if security is not None and not (callable(security) or _is_security(security)):
            raise RequestValidationError("security", "must be a models.Security or a callable returning one")
        if server_url is None:
            server_url = os.environ.get(SERVER_URL_ENV) or None
        if server_url is None:
            if isinstance(server_idx, bool) or not isinstance(server_idx, int):
                raise RequestValidationError("server_idx", f"must be an int, got {shown(server_idx)}")
            if not 0 <= server_idx < len(SERVERS):
                raise RequestValidationError(
                    "server_idx", f"must be in [0, {len(SERVERS)}), got {server_idx}"
                )
            server_url = SERVERS[server_idx]
        retry_policy = retry_policy_with(options["retry_config"], options["max_retries"])
        fail_open_policy = fail_open_policy_of(fail_open)
        return cls(
            server_url=check_server_url("server_url", server_url),
            retry_config=retry_policy,
            timeout=None if timeout_ms is None else timeout_from_ms("timeout_ms", timeout_ms),
            fail_open=fail_open,
            debug_logger=check_debug_logger(options["debug_logger"]),
            api_key=cast("Optional[ApiKey]", api_key),
            security=cast("Optional[SecuritySource]", security),
            fail_open_policy=fail_open_policy,
            server_urls=check_server_urls(options["server_urls"], resources),
            api_versions=check_api_versions(options["api_versions"], resources),
        )


def fail_open_policy_of(fail_open: object) -> Optional[FailOpenPolicy]:
    """`fail_open` as a policy: `True` is `FailOpenPolicy()`, `False` is None."""
    if fail_open is False:
        return None  # the default: meterly._fail_open is not even loaded
    if _is_fail_open_policy(fail_open):
        return fail_open
    if fail_open is True:
        from meterly._fail_open import FailOpenPolicy

        return FailOpenPolicy()
    raise RequestValidationError("fail_open", f"must be a bool or a FailOpenPolicy, got {shown(fail_open)}")


def retry_policy_with(retry_config: object, max_retries: object) -> Optional[RetryConfig]:
    """The retry policy of `retry_config` (UNSET: the default) capped at `max_retries` when given."""
    if not (retry_config is None or isinstance(retry_config, (RetryConfig, Unset))):
        raise RequestValidationError("retry_config", "must be a RetryConfig, None (never retry) or UNSET")
    policy = DEFAULT_RETRY_CONFIG if isinstance(retry_config, Unset) else retry_config
    if max_retries is None:
        return policy
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise RequestValidationError("max_retries", f"must be an int >= 0, got {shown(max_retries)}")
    if policy is None:
        raise RequestValidationError("max_retries", "retry_config=None never retries: pass one or the other")
    return dataclasses.replace(policy, max_retries=max_retries)
