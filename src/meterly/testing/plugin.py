"""The pytest plugin: fixtures that give each test its own Meterly sandbox, and clients that never sleep.

Fixtures: `meterly_engine` (a fresh `SandboxEngine`), `meterly_client` and `meterly_async_client` (over
`SandboxTransport`, retry waits skipped), `meterly_server` (the engine served on 127.0.0.1),
`meterly_outbox` (an `OutboxRecorder`: a client with a usage outbox, to flush and read back). The engine
starts empty, or from a seed: the `meterly_seed` marker, else the `--meterly-seed` option, else the
`meterly_seed` ini setting; a seed is a dict, the path of a JSON file, or `"demo"` for the demo data.
The sandbox loads when a test first asks for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from meterly.integrations._extra import missing

try:
    import pytest
except ImportError:  # pragma: no cover - exercised by the plain-install wheel test
    raise missing(__name__, "pytest", "pytest") from None

if TYPE_CHECKING:
    from meterly import AsyncMeterly, Meterly
    from meterly.sandbox import Sandbox, SandboxEngine
    from meterly.testing import OutboxRecorder

_SEED_HELP = "seed of the meterly_engine fixture: a JSON file's path, or 'demo' for the demo data"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meterly", "Meterly sandbox fixtures")
    group.addoption("--meterly-seed", dest="meterly_seed", default=None, metavar="PATH", help=_SEED_HELP)
    parser.addini("meterly_seed", _SEED_HELP + " (relative to the ini file)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "meterly_seed(seed): the seed of this test's meterly_engine: a dict, a JSON file's path "
        "(relative to the test file), or 'demo'",
    )


def _engine_from(seed: Any, base: Path) -> SandboxEngine:
    from meterly.sandbox import SandboxEngine

    if seed == "demo":
        return SandboxEngine.demo()
    if isinstance(seed, (str, Path)):
        return SandboxEngine.from_seed(base / seed)  # an absolute path stays as it is
    return SandboxEngine.from_seed(seed)


@pytest.fixture
def meterly_engine(request: pytest.FixtureRequest) -> SandboxEngine:
    """A fresh `SandboxEngine` for this test: empty, or built from the seed the marker or option names."""
    marker = request.node.get_closest_marker("meterly_seed")
    config = request.config
    if marker is not None:
        if len(marker.args) != 1 or marker.kwargs:
            raise pytest.UsageError("@pytest.mark.meterly_seed takes one argument: a dict, a path or 'demo'")
        return _engine_from(marker.args[0], request.path.parent)
    option: Optional[str] = config.getoption("meterly_seed")
    if option:
        return _engine_from(option, config.invocation_params.dir)
    ini = str(config.getini("meterly_seed"))
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return _engine_from(ini, base)
    from meterly.sandbox import SandboxEngine

    return SandboxEngine()


def _api_key(engine: SandboxEngine) -> str:
    from meterly.sandbox import DEFAULT_API_KEY

    keys = engine.api_keys
    return DEFAULT_API_KEY if DEFAULT_API_KEY in keys or not keys else keys[0]


@pytest.fixture
def meterly_client(meterly_engine: SandboxEngine) -> Iterator[Meterly]:
    """A `Meterly` answered by `meterly_engine` without sockets; retries run, their waits take no time."""
    import httpx

    from meterly import SERVERS, Meterly
    from meterly.sandbox import SandboxTransport
    from meterly.testing import without_waits

    with (
        httpx.Client(transport=SandboxTransport(meterly_engine)) as http,
        Meterly(api_key=_api_key(meterly_engine), server_url=SERVERS[0], client=http) as client,
    ):
        without_waits(client)
        yield client


@pytest.fixture
def meterly_async_client(meterly_engine: SandboxEngine) -> Iterator[AsyncMeterly]:
    """An `AsyncMeterly` answered by `meterly_engine` without sockets; retry waits take no time.

    A plain fixture (no async plugin needed): the client may be used from any event loop.
    """
    import httpx

    from meterly import SERVERS, AsyncMeterly
    from meterly.sandbox import SandboxTransport
    from meterly.testing import without_waits

    http = httpx.AsyncClient(transport=SandboxTransport(meterly_engine))
    client = AsyncMeterly(api_key=_api_key(meterly_engine), server_url=SERVERS[0], client=http)
    without_waits(client)
    yield client

    import asyncio

    async def close() -> None:
        await client.aclose()
        await http.aclose()

    asyncio.run(close())


@pytest.fixture
def meterly_server(meterly_engine: SandboxEngine) -> Iterator[Sandbox]:
    """`meterly_engine` served on a free 127.0.0.1 port: `.url` and `.api_key` for code that takes a URL."""
    from meterly.sandbox import Sandbox

    with Sandbox(engine=meterly_engine) as server:
        yield server


@pytest.fixture
def meterly_outbox(meterly_engine: SandboxEngine) -> Iterator[OutboxRecorder]:
    """A `Meterly` with an in-memory outbox over `SandboxTransport(meterly_engine)` (`.client`): a test
    queues through `.client.outbox`, calls `.flush()`, then reads `.delivered` and `.dead_letters()`."""
    import httpx

    from meterly import SERVERS, Meterly
    from meterly.sandbox import SandboxTransport
    from meterly.testing import OutboxRecorder, without_waits

    recorder = OutboxRecorder()
    with (
        httpx.Client(transport=SandboxTransport(meterly_engine)) as http,
        Meterly(
            api_key=_api_key(meterly_engine),
            server_url=SERVERS[0],
            client=http,
            hooks=[recorder.hook],
            outbox=True,
        ) as client,
    ):
        without_waits(client)
        recorder.client = client
        yield recorder
