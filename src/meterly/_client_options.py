"""The client options, declared once: each one's name, type, default, docstring line and where it goes.

`scripts/gen_code.py` (`make gen`) writes the `Meterly` and `AsyncMeterly` constructors and
`with_options` from `OPTIONS` (`meterly/_constructors.py`); `SDKConfiguration.create` takes the options
marked `config` by name and validates them; the `meterly` command's connection flags are the options
marked `cli`. Types and defaults are source text, as the generated signatures spell them.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple


class ClientOption(NamedTuple):
    """One constructor argument of the clients."""

    name: str
    annotation: str
    """The type as the sync constructor spells it."""
    default: str
    doc: str
    """The `Args:` line of the sync constructor (and of the async one unless `async_doc` differs)."""
    async_annotation: str = ""
    """The type on `AsyncMeterly`, when it differs."""
    async_doc: str = ""
    only_async: bool = False
    config: bool = True
    """Passed to `SDKConfiguration.create`, which validates it; False: the client itself uses it."""
    view_default: str = ""
    """`with_options` takes it too, with this default (meaning: keep the client's); empty: it does not."""
    view_doc: str = ""
    cli: str = ""
    """The `meterly` command's flag for it, with `doc` as its help; empty: no flag."""


OPTIONS: Tuple[ClientOption, ...] = (
    ClientOption(
        "api_key",
        "Optional[ApiKey]",
        "None",
        "The key for every operation, or a callable returning it (called once per call); None reads "
        "`METERLY_API_KEY`.",
        cli="--api-key",
    ),
    ClientOption(
        "security",
        "Optional[SecuritySource]",
        "None",
        "Keys per security scheme (`models.Security`, or a callable returning one); a scheme it leaves "
        "unset falls back to `api_key`.",
    ),
    ClientOption(
        "server_url",
        "Optional[str]",
        "None",
        "The server calls go to; None reads `METERLY_SERVER_URL`, else `SERVERS[server_idx]`.",
        cli="--server-url",
    ),
    ClientOption(
        "server_idx", "int", "0", "Which of `meterly.SERVERS` to use when no `server_url` is given."
    ),
    ClientOption(
        "timeout_ms",
        "Optional[int]",
        "None",
        "The timeout of each attempt, in milliseconds (default 1 s for an SDK-owned pool).",
        view_default="None",
        view_doc="The per-attempt timeout of the view's calls, in milliseconds.",
        cli="--timeout-ms",
    ),
    ClientOption(
        "retry_config",
        "Union[RetryConfig, Unset, None]",
        "UNSET",
        "The retry policy (`RetryConfig`); UNSET is the default policy, None never retries.",
        view_default="UNSET",
        view_doc="The view's retry policy (`None`: never retry); UNSET keeps this client's.",
    ),
    ClientOption(
        "max_retries",
        "Optional[int]",
        "None",
        "At most this many retries per call, on top of `retry_config`'s policy.",
        view_default="None",
        view_doc="At most this many retries per call, on the view's retry policy.",
    ),
    ClientOption(
        "client",
        "Union[httpx.Client, httpx2.Client, None]",
        "None",
        "An `httpx.Client` or `httpx2.Client` to send with (it keeps the SDK's deadline whatever its own "
        "timeouts); the SDK never closes a client it did not create.",
        async_annotation="Union[httpx.AsyncClient, httpx2.AsyncClient, aiohttp.ClientSession, None]",
        async_doc="An `httpx.AsyncClient`, `httpx2.AsyncClient` or `aiohttp.ClientSession` to send with (it "
        "keeps the SDK's deadline whatever its own timeouts); the SDK never closes a client it did not "
        "create.",
        config=False,
    ),
    ClientOption(
        "debug_logger",
        "Optional[logging.Logger]",
        "None",
        "A logger that gets one DEBUG line per attempt, keys redacted.",
    ),
    ClientOption(
        "fail_open",
        "Union[bool, FailOpenPolicy]",
        "False",
        "`True` or a `FailOpenPolicy` to answer checks on their own during an outage.",
        view_default="None",
        view_doc="The view's fail-open setting (`True`, `False` or a `FailOpenPolicy`); None keeps this "
        "client's, and its circuit breakers.",
    ),
    ClientOption(
        "hooks",
        "Iterable[Hook]",
        "()",
        "Objects whose `before_request`, `after_success` and `after_error` see every attempt.",
        async_annotation="Iterable[AsyncHook]",
        async_doc="Objects whose `before_request`, `after_success` and `after_error` (plain or `async def`) "
        "see every attempt.",
        config=False,
    ),
    ClientOption(
        "http_backend",
        "SyncHttpBackend",
        '"httpx"',
        'The engine of the SDK\'s own client: `"httpx"`, `"httpx2"` or `"pyreqwest"` (the fastest; '
        "`pip install 'meterly[pyreqwest]'`); see README \"Choosing an HTTP engine\".",
        async_annotation="HttpBackend",
        async_doc='The engine of the SDK\'s own clients: `"httpx"`, `"httpx2"`, `"pyreqwest"` or `"aiohttp"` '
        "(each optional one an extra, `pip install 'meterly[aiohttp]'`); see README \"Choosing an HTTP "
        'engine".',
        config=False,
    ),
    ClientOption(
        "server_urls",
        "Optional[Mapping[str, str]]",
        "None",
        'A server per resource (`{"balances": ..., "usage": ...}`), for an app that uses both services; a '
        "resource left out uses `server_url`.",
    ),
    ClientOption(
        "api_versions",
        "Optional[Mapping[str, str]]",
        "None",
        'The API version each resource pins (`{"balances": "2.1", "usage": "2026-08-27"}` are the '
        "defaults): `x-api-version` for balances, `Commet-Version` for usage.",
    ),
    ClientOption(
        "outbox",
        "Union[bool, Outbox, None]",
        "None",
        "`True` (in memory) or a `meterly.Outbox` (`path=` for a durable file): `client.outbox` queues "
        "usage and a background thread delivers it.",
        async_doc="`True` (in memory) or a `meterly.Outbox` (`path=` for a durable file): `client.outbox` "
        "queues usage and an asyncio task delivers it.",
        config=False,
    ),
)
"""Every option, in the constructors' order."""

CONFIG_OPTIONS: Tuple[str, ...] = tuple(option.name for option in OPTIONS if option.config)
"""The options `SDKConfiguration.create` takes and validates."""

SYNC_DOC = "Create a client; it opens its connection pool at the first call."
ASYNC_DOC = "Create a client; it opens a connection pool per event loop, at the loop's first call."
VIEW_DOC = """A view of this client with some options changed; it shares this client's connection pool.

Closing the view (or leaving its `with` block) closes only the view: the pool stays open until
this client is closed, and a view of a closed client raises like the closed client."""
