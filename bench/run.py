"""The performance suite (`make bench`): the SDK next to raw httpx (and aiohttp), measured in one run.

Starts its own loopback server (nginx with a temporary config, else a small asyncio server; the output says
which) and prints, for the SDK and raw clients: sync latency per call, async throughput at 1, 8 and 64
concurrent calls, SDK-side overhead with a zero-cost transport, cold start, and memory. Every timing is the
median of interleaved rounds, so a noisy machine slows both sides alike; a latency, throughput or cold-start
ratio is the median of each round's ratio, the two sides of a round measured back to back. `--quick` for a
short run.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Awaitable, Callable, Dict, List, Tuple
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import overhead
from server import AUTH, canned_server

from meterly import AsyncMeterly, Meterly
from meterly.balances import BALANCES_CHECK
from meterly.errors import MeterlyError

PATH = "/v1/balances.check"
BODY = {"customer_id": "cus_123", "feature_id": "messages"}
HERE = os.path.dirname(os.path.abspath(__file__))
# The SDK's clients get raw httpx's own 5 s timeout, so both sides run under the same limit: the SDK's
# 1 s default bounds a whole attempt, and 64 calls at once through httpx's async pool can queue longer.
SDK_TIMEOUT_MS = 5_000

FAILED: Dict[str, int] = {}
"""SDK calls that raised during the async section, by error (shown after it)."""

Row = Tuple[str, str, str, str, str]
rows: List[Row] = []


def row(metric: str, raw: str, sdk: str, ratio: str, target: str) -> None:
    rows.append((metric, raw, sdk, ratio, target))
    print(f"  {metric:44s} {raw:>14s} {sdk:>14s} {ratio:>8s}  {target}", flush=True)


def interleaved(fns: Dict[str, Callable[[], float]], rounds: int) -> Dict[str, List[float]]:
    """Each measurement's samples over rounds, the order rotating every round."""
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(fns[name]())
    return samples


def medians(samples: Dict[str, List[float]]) -> Dict[str, float]:
    return {name: statistics.median(values) for name, values in samples.items()}


def paired(samples: Dict[str, List[float]], base: str, other: str) -> float:
    """Median over rounds of other's time over base's, each round's pair measured back to back: a machine
    that slows down for a while slows both sides of the pair alike."""
    return statistics.median(o / b for b, o in zip(samples[base], samples[other], strict=True))


# -- sync latency ------------------------------------------------------------------------------------


def sync_latency(url: str, calls: int, rounds: int) -> None:
    raw_client = httpx.Client()
    sdk = Meterly(api_key="sk_bench", server_url=url, timeout_ms=SDK_TIMEOUT_MS)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    payload = json.dumps(BODY).encode()

    def raw() -> object:
        return raw_client.post(url + PATH, json=BODY, headers=AUTH).json()

    def sdk_call() -> object:
        return sdk.balances.check(customer_id="cus_123", feature_id="messages")

    def stdlib() -> object:
        conn.request("POST", PATH, body=payload, headers={"content-type": "application/json", **AUTH})
        return json.loads(conn.getresponse().read())

    fns: Dict[str, Callable[[], object]] = {"raw": raw, "sdk": sdk_call, "stdlib": stdlib}
    extra: List[Any] = []
    try:
        import httpx2

        raw2 = httpx2.Client()
        sdk2 = Meterly(api_key="sk_bench", server_url=url, timeout_ms=SDK_TIMEOUT_MS, http_backend="httpx2")
        fns["raw httpx2"] = lambda: raw2.post(url + PATH, json=BODY, headers=AUTH).json()
        fns["sdk httpx2"] = lambda: sdk2.balances.check(customer_id="cus_123", feature_id="messages")
        extra += [raw2, sdk2]
    except ImportError:
        pass
    try:
        from pyreqwest.client import SyncClientBuilder

        rq = SyncClientBuilder().build()
        rq_headers = {"content-type": "application/json", **AUTH}

        def raw_rq() -> object:
            return rq.post(url + PATH).body_bytes(payload).headers(rq_headers).build().send().json()

        sdk_rq = Meterly(
            api_key="sk_bench", server_url=url, timeout_ms=SDK_TIMEOUT_MS, http_backend="pyreqwest"
        )
        parse = BALANCES_CHECK.parse

        def raw_rq_model() -> object:
            # The floor of any client on pyreqwest that returns the typed answer: raw pyreqwest's post,
            # its answer validated into `CheckResponse` by the SDK's own parser.
            sent = rq.post(url + PATH).body_bytes(payload).headers(rq_headers)
            return parse(bytes(sent.build().send().bytes()))

        fns["raw pyreqwest"] = raw_rq
        fns["raw pyreqwest + model"] = raw_rq_model
        fns["sdk pyreqwest"] = lambda: sdk_rq.balances.check(customer_id="cus_123", feature_id="messages")
        extra += [rq, sdk_rq]
    except ImportError:
        pass

    def timed(fn: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            return (time.perf_counter() - start) / calls

        return run

    for fn in fns.values():
        timed(fn)()
    samples = interleaved({name: timed(fn) for name, fn in fns.items()}, rounds)
    result = medians(samples)
    ratio = paired(samples, "raw", "sdk")
    row(
        "sync latency per call (ms)",
        f"{result['raw'] * 1e3:.3f}",
        f"{result['sdk'] * 1e3:.3f}",
        f"{ratio:.2f}x",
        f"<= 1.10x  (http.client: {result['stdlib'] * 1e3:.3f} ms)",
    )
    if "sdk httpx2" in samples:
        row(
            "sync latency per call, httpx2 engine (ms)",
            f"{result['raw httpx2'] * 1e3:.3f}",
            f"{result['sdk httpx2'] * 1e3:.3f}",
            f"{paired(samples, 'raw httpx2', 'sdk httpx2'):.2f}x",
            "vs raw httpx2",
        )
    if "sdk pyreqwest" in samples:
        row(
            "sync latency per call, pyreqwest engine (ms)",
            f"{result['stdlib'] * 1e3:.3f}",
            f"{result['sdk pyreqwest'] * 1e3:.3f}",
            f"{paired(samples, 'stdlib', 'sdk pyreqwest'):.2f}x",
            f"<= 1.0x http.client  (raw pyreqwest: {result['raw pyreqwest'] * 1e3:.3f} ms)",
        )
        for name in ("raw pyreqwest", "raw pyreqwest + model"):
            row(
                f"sync latency per call, {name} (ms)",
                f"{result['stdlib'] * 1e3:.3f}",
                f"{result[name] * 1e3:.3f}",
                f"{paired(samples, 'stdlib', name):.2f}x",
                "vs http.client: what a client on pyreqwest starts from",
            )
    raw_client.close()
    sdk.close()
    conn.close()
    for client in extra:
        client.close()


# -- async throughput --------------------------------------------------------------------------------


async def throughput(call: Callable[[], Awaitable[object]], concurrency: int, total: int) -> float:
    """Seconds per call with `concurrency` calls in flight until `total` are done."""
    left = total

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            try:
                await call()
            except MeterlyError as exc:  # counted and shown: a client that times out under load
                FAILED[type(exc).__name__] = FAILED.get(type(exc).__name__, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.perf_counter() - start) / total


async def async_section(url: str, rounds: int, round_seconds: float, with_aiohttp: bool) -> None:
    raw_httpx = httpx.AsyncClient()
    sdk_httpx = AsyncMeterly(api_key="sk_bench", server_url=url, timeout_ms=SDK_TIMEOUT_MS)
    calls: Dict[str, Callable[[], Awaitable[object]]] = {}

    async def raw_httpx_call() -> object:
        return (await raw_httpx.post(url + PATH, json=BODY, headers=AUTH)).json()

    calls["raw httpx"] = raw_httpx_call
    calls["meterly (httpx)"] = lambda: sdk_httpx.balances.check(customer_id="cus_123", feature_id="messages")
    injected = httpx.AsyncClient()
    sdk_injected = AsyncMeterly(
        api_key="sk_bench", server_url=url, timeout_ms=SDK_TIMEOUT_MS, client=injected
    )
    calls["meterly (httpx injected)"] = lambda: sdk_injected.balances.check(
        customer_id="cus_123", feature_id="messages"
    )
    closers: List[Callable[[], Awaitable[None]]] = [raw_httpx.aclose, sdk_httpx.aclose, injected.aclose]
    try:
        from pyreqwest.client import ClientBuilder

        sdk_rq = AsyncMeterly(
            api_key="sk_bench", server_url=url, http_backend="pyreqwest", timeout_ms=SDK_TIMEOUT_MS
        )
        calls["meterly (pyreqwest)"] = lambda: sdk_rq.balances.check(
            customer_id="cus_123", feature_id="messages"
        )
        raw_rq = ClientBuilder().build()
        rq_payload = json.dumps(BODY).encode()
        rq_headers = {"content-type": "application/json", **AUTH}
        parse = BALANCES_CHECK.parse

        async def raw_rq_call() -> object:
            response = await raw_rq.post(url + PATH).body_bytes(rq_payload).headers(rq_headers).build().send()
            return await response.json()

        async def raw_rq_model_call() -> object:
            # Raw pyreqwest's post, its answer validated into `CheckResponse` by the SDK's own parser.
            response = await raw_rq.post(url + PATH).body_bytes(rq_payload).headers(rq_headers).build().send()
            return parse(bytes(await response.bytes()))

        calls["raw pyreqwest"] = raw_rq_call
        calls["raw pyreqwest + model"] = raw_rq_model_call
        closers += [sdk_rq.aclose, raw_rq.close]
    except ImportError:
        pass
    if with_aiohttp:
        import aiohttp

        session = aiohttp.ClientSession()
        sdk_aio = AsyncMeterly(
            api_key="sk_bench", server_url=url, http_backend="aiohttp", timeout_ms=SDK_TIMEOUT_MS
        )

        async def raw_aiohttp_call() -> object:
            async with session.post(url + PATH, json=BODY, headers=AUTH) as response:
                return await response.json()

        calls["raw aiohttp"] = raw_aiohttp_call
        calls["meterly (aiohttp)"] = lambda: sdk_aio.balances.check(
            customer_id="cus_123", feature_id="messages"
        )
        closers += [session.close, sdk_aio.aclose]

    for concurrency in (1, 8, 64):
        # Each client gets as many calls per round as take about `round_seconds` (at least 4 per worker),
        # so slow and fast clients alike run many short rounds, all of them in every round.
        per_round: Dict[str, int] = {}
        for name, call in calls.items():  # warm up: pools at this concurrency, first-use compiles
            warm = await throughput(call, concurrency, 4 * concurrency + 50)
            per_round[name] = max(4 * concurrency, int(round_seconds / warm))
        samples: Dict[str, List[float]] = {name: [] for name in calls}
        names = list(calls)
        for i in range(rounds):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(await throughput(calls[name], concurrency, per_round[name]))
        per_call = {name: statistics.median(values) for name, values in samples.items()}
        row(
            f"async c={concurrency:<2d} calls/s (httpx)",
            f"{1 / per_call['raw httpx']:.0f}",
            f"{1 / per_call['meterly (httpx)']:.0f}",
            f"{1 / paired(samples, 'raw httpx', 'meterly (httpx)'):.2f}x",
            f"injected httpx.AsyncClient: {1 / per_call['meterly (httpx injected)']:.0f}/s",
        )
        if with_aiohttp:
            over_httpx = 1 / paired(samples, "meterly (httpx)", "meterly (aiohttp)")
            row(
                f"async c={concurrency:<2d} calls/s (aiohttp)",
                f"{1 / per_call['raw aiohttp']:.0f}",
                f"{1 / per_call['meterly (aiohttp)']:.0f}",
                f"{1 / paired(samples, 'raw aiohttp', 'meterly (aiohttp)'):.2f}x",
                f"{'>= 0.8x raw aiohttp; ' if concurrency == 64 else ''}"
                f"{over_httpx:.1f}x meterly(httpx){' (>= 5x)' if concurrency == 64 else ''}",
            )
            if "meterly (pyreqwest)" in calls:
                row(
                    f"async c={concurrency:<2d} calls/s (pyreqwest)",
                    f"{1 / per_call['raw aiohttp']:.0f}",
                    f"{1 / per_call['meterly (pyreqwest)']:.0f}",
                    f"{1 / paired(samples, 'raw aiohttp', 'meterly (pyreqwest)'):.2f}x",
                    ">= 1.0x raw aiohttp",
                )
                for name in ("raw pyreqwest", "raw pyreqwest + model"):
                    row(
                        f"async c={concurrency:<2d} calls/s ({name})",
                        f"{1 / per_call['raw aiohttp']:.0f}",
                        f"{1 / per_call[name]:.0f}",
                        f"{1 / paired(samples, 'raw aiohttp', name):.2f}x",
                        "vs raw aiohttp: what a client on pyreqwest starts from",
                    )
    for close in closers:
        await close()
    if FAILED:
        print(f"  SDK calls that failed during the async section: {FAILED}")


# -- zero-cost transport -----------------------------------------------------------------------------


def overhead_section(calls: int, rounds: int) -> None:
    for engine in overhead.ENGINES:
        try:
            raw, sdk = overhead.measure(calls, rounds, engine)
        except ImportError as exc:
            print(f"  {engine}: not installed ({exc.name}), not measured")
            continue
        row(
            f"overhead, zero-cost transport, {engine} (us CPU/call)",
            f"{raw * 1e6:.1f}",
            f"{sdk * 1e6:.1f}",
            f"{sdk / raw:.3f}x",
            f"<= 1.0x raw {engine}",
        )
        if engine.startswith("pyreqwest"):
            raw, least = overhead.measure(calls, rounds, engine, floor=True)
            row(
                f"  floor on {engine}: its pyreqwest calls + the model (us CPU/call)",
                f"{raw * 1e6:.1f}",
                f"{least * 1e6:.1f}",
                f"{least / raw:.3f}x",
                "what any typed client on pyreqwest spends at least",
            )


def seam_section(calls: int, rounds: int) -> None:
    try:
        samples = overhead.measure_seam(calls, rounds)
    except ImportError:
        print("  opentelemetry-sdk is not installed: pip install opentelemetry-sdk to measure the seam")
        return
    result = medians(samples)
    direct, seam, traced = result["direct"], result["seam"], result["traced"]
    row(
        "instrumentation seam, not enabled (us CPU/call)",
        f"{direct * 1e6:.1f}",
        f"{seam * 1e6:.1f}",
        f"{paired(samples, 'direct', 'seam'):.3f}x",
        "~1.00x the call path without the seam",
    )
    row(
        "OpenTelemetry enabled (us CPU/call)",
        f"{direct * 1e6:.1f}",
        f"{traced * 1e6:.1f}",
        f"{paired(samples, 'direct', 'traced'):.3f}x",
        "(SDK providers, no exporter)",
    )
    code = "import sys, meterly; print(sum(m.startswith('opentelemetry') for m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    row("opentelemetry modules loaded by `import meterly`", "", loaded.strip(), "", "0")


# -- cold start --------------------------------------------------------------------------------------


def cold_start(url: str, runs: int) -> None:
    """`firstcall.py`'s fresh-process rows: import + construct, and process start to the first check."""
    import firstcall

    with tempfile.TemporaryDirectory(prefix="meterly-pycache-") as cache:
        firstcall.process_rows(url, runs, firstcall.fresh_env(cache), row)


# -- memory ------------------------------------------------------------------------------------------


def memory(url: str, checks: int) -> None:
    script = os.path.join(HERE, "memory.py")
    procs = {
        kind: subprocess.Popen(
            [sys.executable, script, "--url", url, "--checks", str(checks), "--client", kind],
            stdout=subprocess.PIPE,
            text=True,
        )
        for kind in ("httpx", "meterly")
    }
    out: Dict[str, Dict[str, Any]] = {}
    for kind, proc in procs.items():
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"bench/memory.py --client {kind} failed")
        out[kind] = json.loads(stdout.strip().splitlines()[-1])
    raw, sdk = out["httpx"], out["meterly"]
    row(
        "peak RSS (MB)",
        f"{raw['peak_mb']:.1f}",
        f"{sdk['peak_mb']:.1f}",
        f"{sdk['peak_mb'] / raw['peak_mb']:.2f}x",
        f"{checks} sequential checks each",
    )
    row(
        f"RSS growth over {checks} checks (MB)",
        f"{raw['growth_mb']:+.2f}",
        f"{sdk['growth_mb']:+.2f}",
        "",
        "< 2 MB",
    )
    row(
        "open fds: after warm-up -> at the end",
        f"{raw['fds_start']} -> {raw['fds_end']}",
        f"{sdk['fds_start']} -> {sdk['fds_end']}",
        "",
        "flat",
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, httpx {httpx.__version__}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls (a smoke run)")
    parser.add_argument("--only", nargs="*", default=None, help="sync async overhead seam cold memory")
    parser.add_argument("--server", choices=("nginx", "asyncio"), default="nginx")
    args = parser.parse_args()
    quick = args.quick
    only = set(args.only or ("sync", "async", "overhead", "seam", "cold", "memory"))
    try:
        import aiohttp  # noqa: F401

        with_aiohttp = True
    except ImportError:
        with_aiohttp = False

    with canned_server(args.server) as (url, name):
        print(f"machine: {machine()}")
        print(f"server:  {name} at {url}")
        print(f"  {'':44s} {'raw':>14s} {'meterly':>14s} {'ratio':>8s}  target")
        if "sync" in only:
            sync_latency(url, calls=100 if quick else 250, rounds=3 if quick else 21)
        if "async" in only:
            asyncio.run(
                async_section(
                    url,
                    rounds=3 if quick else 21,
                    round_seconds=0.05 if quick else 0.15,
                    with_aiohttp=with_aiohttp,
                )
            )
        if "overhead" in only:
            overhead_section(calls=300 if quick else 1000, rounds=5 if quick else 21)
        if "seam" in only:
            seam_section(calls=300 if quick else 1000, rounds=5 if quick else 21)
        if "cold" in only:
            cold_start(url, runs=3 if quick else 31)
        if "memory" in only:
            memory(url, checks=5_000 if quick else 100_000)
    if not with_aiohttp:
        print("aiohttp is not installed: pip install 'meterly[aiohttp]' to measure the aiohttp backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
