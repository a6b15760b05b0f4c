"""The first call, measured in fresh processes.

`python bench/firstcall.py` prints (targets in brackets):
- import + construct next to `import httpx; from pydantic import BaseModel` [<= 1.10x], and meterly's own
  share of it timed inside the process;
- process start to the first parsed `balances.check` against a local canned server, next to
  `httpx.post(...).json()` [<= 1.3x], and next to the same post validated by one small pydantic model (what
  any typed client has to pay: pydantic's import and one model's compilation);
- 48 threads in one fresh process, each building its own client and making its first check at the same
  moment against `with Sandbox()`: the slowest and the median answer, without and with `warm()` called by
  each thread before the moment [slowest <= 400 ms].

Every process figure is timed from just before the process is started to its last statement (the
interpreter's exit is not the first call's cost), wall clock and the process's CPU, in interleaved rounds;
a ratio is the median of the rounds' paired ratios. Bytecode is cached for every module alike, as after
`pip install`.

The process rows run twice: in a fresh environment holding only meterly and its runtime dependencies, as
after `pip install meterly` (a virtual environment whose site-packages links to this one's copies), and
in this development environment. The difference is pydantic's: the first model it compiles imports
`importlib.metadata` and reads every installed distribution's entry points, looking for pydantic
plugins, so it costs more the more is installed (`--site` picks one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]

from run import BODY, PATH, paired, row  # noqa: E402
from server import AUTH, canned_server  # noqa: E402

END = "; import time as _t; print(_t.monotonic(), _t.process_time())"
FLOOR = "import httpx; from pydantic import BaseModel"
SDK_IMPORT = "import meterly; meterly.Meterly(api_key='sk_bench')"
OWN_IMPORT = f"{FLOOR}; import time; t = time.perf_counter(); {SDK_IMPORT}; print(time.perf_counter() - t)"
"""meterly's own share of import + construct, timed inside the process after httpx and pydantic: free of
the interpreter's start, whose noise is larger than a millisecond of meterly's."""
RAW_FIRST = (
    "import httpx; r = httpx.post({url!r}, json={body!r}, headers={auth!r}).json(); assert r['allowed']"
)
RAW_MODEL = (
    "import typing, httpx; from pydantic import BaseModel\n"
    "class Check(BaseModel):\n"
    "    allowed: bool\n    customer_id: str\n    required_balance: typing.Optional[float] = None\n"
    "    balance: typing.Optional[typing.Dict[str, typing.Any]] = None\n"
    "r = Check.model_validate(httpx.post({url!r}, json={body!r}, headers={auth!r}).json()); assert r.allowed"
)
SDK_FIRST = (
    "import meterly; c = meterly.Meterly(api_key='sk_bench', server_url={base!r}); "
    "assert c.balances.check(customer_id='cus_123', feature_id='messages').allowed"
)

WAVE = """
import json, sys, threading, time
from meterly import Meterly
from meterly.sandbox import Sandbox

threads, warm = int(sys.argv[1]), sys.argv[2] == "warm"
took = [float("inf")] * threads
with Sandbox() as sb:
    barrier = threading.Barrier(threads)

    def one(i):
        client = Meterly(api_key=sb.api_key, server_url=sb.url)
        if warm:
            client.warm()
        barrier.wait()
        started = time.perf_counter()
        client.balances.check(customer_id="cus_pro", feature_id="messages")
        took[i] = time.perf_counter() - started
        client.close()

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
print(json.dumps(took))
"""


def timed_process(code: str, env: Dict[str, str], python: str = sys.executable) -> Tuple[float, float]:
    """(wall, CPU) seconds from just before the process starts to its last statement."""
    started = time.monotonic()
    out = subprocess.run([python, "-c", code + END], check=True, env=env, capture_output=True, text=True)
    ended, cpu = (float(x) for x in out.stdout.split()[-2:])
    return ended - started, cpu


def fresh_env(cache: str) -> Dict[str, str]:
    """Bytecode cached for every module alike, as after `pip install` (an editable install of meterly, or
    PYTHONDONTWRITEBYTECODE, would otherwise make only meterly compile its source at each start)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = str(HERE.parent / "src")
    return env


def runtime_distributions() -> List[metadata.Distribution]:
    """meterly's distribution and those it needs at run time (no extras), as installed here."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: Dict[str, metadata.Distribution] = {}
    waiting = ["meterly"]
    while waiting:
        name = waiting.pop()
        if canonicalize_name(name) in found:
            continue
        dist = found[canonicalize_name(name)] = metadata.distribution(name)
        for text in dist.requires or []:
            need = Requirement(text)
            if need.marker is None or need.marker.evaluate({"extra": ""}):
                waiting.append(need.name)
    return list(found.values())


def fresh_site(where: str) -> str:
    """A virtual environment holding only meterly and its runtime dependencies (links to this
    environment's copies, meterly's to `src/meterly`), as after `pip install meterly`; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", where], check=True)
    python = os.path.join(where, "bin", "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    for dist in runtime_distributions():
        tops = {Path(str(file)).parts[0] for file in dist.files or [] if not str(file).startswith("..")}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if top.endswith(".pth") or top == "__pycache__" or not source.exists():
                continue
            os.symlink(source, os.path.join(site, top))
    os.symlink(HERE.parent / "src" / "meterly", os.path.join(site, "meterly"))
    return python


def fresh_site_env(cache: str) -> Dict[str, str]:
    env = fresh_env(cache)
    del env["PYTHONPATH"]
    return env


def own_import(env: Dict[str, str], python: str) -> float:
    """Seconds `OWN_IMPORT` measures in one fresh process."""
    out = subprocess.run([python, "-c", OWN_IMPORT], check=True, env=env, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def process_rows(
    base: str,
    rounds: int,
    env: Dict[str, str],
    row: Callable[[str, str, str, str, str], None] = row,
    python: str = sys.executable,
    site: str = "",
) -> None:
    fmt = {"url": base + PATH, "body": BODY, "auth": AUTH, "base": base}
    codes = {
        "floor": FLOOR,
        "import": SDK_IMPORT,
        "raw_first": RAW_FIRST.format(**fmt),
        "raw_model": RAW_MODEL.format(**fmt),
        "sdk_first": SDK_FIRST.format(**fmt),
    }
    for code in codes.values():  # caches every module's bytecode
        timed_process(code, env, python)
    wall: Dict[str, List[float]] = {name: [] for name in codes}
    cpu: Dict[str, List[float]] = {name: [] for name in codes}
    own: List[float] = []
    for _ in range(rounds):
        for name, code in codes.items():
            w, c = timed_process(code, env, python)
            wall[name].append(w)
            cpu[name].append(c)
        own.append(own_import(env, python))

    def ms(samples: Dict[str, List[float]], name: str) -> str:
        return f"{statistics.median(samples[name]) * 1e3:.0f}"

    low, _, high = statistics.quantiles(own, n=4)
    row(
        f"meterly's own import + client, in-process{site} (ms)",
        "",
        f"{statistics.median(own) * 1e3:.1f}",
        f"p25-p75 {low * 1e3:.1f}-{high * 1e3:.1f}",
        "after httpx and pydantic",
    )
    for label, samples in (("wall", wall), ("CPU", cpu)):
        row(
            f"import + client, {label}{site} (ms)",
            ms(samples, "floor"),
            ms(samples, "import"),
            f"{paired(samples, 'floor', 'import'):.3f}x",
            "<= 1.10x import httpx + pydantic",
        )
        row(
            f"start to first parsed check, {label}{site} (ms)",
            ms(samples, "raw_first"),
            ms(samples, "sdk_first"),
            f"{paired(samples, 'raw_first', 'sdk_first'):.3f}x",
            "<= 1.3x httpx.post(...).json()",
        )
        row(
            f"  httpx.post + 1 pydantic model, {label}{site} (ms)",
            ms(samples, "raw_first"),
            ms(samples, "raw_model"),
            f"{paired(samples, 'raw_first', 'raw_model'):.3f}x",
            "reference: one model's cost",
        )


def wave_rows(threads: int, runs: int, env: Dict[str, str]) -> None:
    for mode in ("cold", "warm"):
        slowest: List[float] = []
        middle: List[float] = []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", WAVE, str(threads), mode],
                check=True,
                env=env,
                capture_output=True,
                text=True,
            )
            took = json.loads(out.stdout.splitlines()[-1])
            slowest.append(max(took))
            middle.append(statistics.median(took))
        label = "max / median" if mode == "cold" else "warm() first"
        row(
            f"{threads} threads' first checks, {label} (ms)",
            "",
            f"{statistics.median(slowest) * 1e3:.0f} / {statistics.median(middle) * 1e3:.0f}",
            f"max {max(slowest) * 1e3:.0f}",
            "slowest <= 400 ms",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds of fresh processes")
    parser.add_argument("--threads", type=int, default=48)
    parser.add_argument("--wave-runs", type=int, default=7, help="fresh processes per wave mode")
    parser.add_argument("--server", choices=("nginx", "asyncio"), default="nginx")
    parser.add_argument(
        "--site", choices=("fresh", "dev", "both"), default="both",
        help="where the process rows run: a fresh environment with only meterly's runtime dependencies, "
        "this development environment, or both",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meterly-pycache-") as cache:
        env = fresh_env(cache)
        with canned_server(args.server) as (base, name):
            print(f"server: {name} at {base}")
            if args.site in ("fresh", "both"):
                python = fresh_site(os.path.join(cache, "venv"))
                process_rows(base, args.rounds, fresh_site_env(cache), python=python, site=", fresh env")
            if args.site in ("dev", "both"):
                process_rows(base, args.rounds, env, site=", dev env" if args.site == "both" else "")
        wave_rows(args.threads, args.wave_runs, env)


if __name__ == "__main__":
    main()
