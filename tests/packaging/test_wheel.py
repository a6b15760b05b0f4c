"""The built package: an sdist and a wheel that install cleanly, alone and with the lowest supported deps.

Each environment is a fresh `python -m venv --without-pip`, filled by this interpreter's pip
(`pip --python`), which keeps the pip cache shared with the development environment.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Optional

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        data: dict[str, Any] = tomllib.load(file)
    return data


def lowest_versions() -> dict[str, str]:
    """Each runtime dependency's lower bound, as pyproject.toml states it (the only place it is written)."""
    requirements = map(Requirement, pyproject()["project"]["dependencies"])
    return {requirement.name: _floor(requirement) for requirement in requirements}


def _floor(requirement: Requirement) -> str:
    """The version after `>=` in `requirement`'s range."""
    (floor,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return floor


def clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("METERLY_", "PYTHONPATH", "VIRTUAL_ENV"))
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sh(*argv: str | Path, cwd: Optional[Path] = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done


def pip(venv: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return sh(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", *args)


def new_venv(path: Path, *requirements: str | Path) -> Path:
    sh(sys.executable, "-m", "venv", "--without-pip", path)
    pip(path, "install", "--quiet", *requirements)
    return path


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build`: the sdist and the wheel of this checkout, built once per test run.

    Under pytest-xdist every worker that runs a test of this module needs them: the first one builds
    into the run's shared temporary folder, under a file lock, and the others reuse its build.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's folder, shared by its workers (each has its own below it)
    out = base / "meterly-dist"
    with (base / "meterly-dist.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "BUILT").exists():
            shutil.rmtree(out, ignore_errors=True)
            sh(sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", out, ROOT)
            (out / "BUILT").touch()
    return out


@pytest.fixture(scope="session")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("meterly-*.whl")
    return found


def test_build_makes_an_sdist_and_a_wheel(dist: Path) -> None:
    assert len(list(dist.glob("meterly-*.tar.gz"))) == 1
    assert len(list(dist.glob("meterly-*-py3-none-any.whl"))) == 1


def test_the_sdist_carries_the_license_and_the_changelog(dist: Path) -> None:
    (sdist,) = dist.glob("meterly-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "src/meterly/py.typed"} <= names


def test_the_wheel_carries_the_mit_license(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (license_file,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    assert archive.read(license_file).decode().startswith("MIT License")


def test_the_wheel_holds_the_typed_package_and_no_tests_or_tooling(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "meterly/py.typed" in names
    assert "meterly/cli.py" in names
    assert all(name.startswith(("meterly/", "meterly-")) for name in names), names
    shipped = [n for n in names if not n.startswith("meterly/testing/")]  # the pytest plugin is a feature
    assert not [n for n in shipped if "test" in n or "conftest" in n or n.endswith((".md", ".yaml", ".cfg"))]
    assert {"meterly/testing/plugin.py", "meterly/integrations/otel.py"} <= set(names)
    dist_info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(dist_info).decode()
    assert "meterly = meterly.cli:main" in entry_points
    assert "[pytest11]\nmeterly = meterly.testing.plugin" in entry_points


def test_the_wheel_metadata_carries_pyprojects_dependency_ranges(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()
    required = {
        Requirement(line.split(":", 1)[1])
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    }
    runtime = {str(r) for r in required if r.marker is None}
    assert runtime == {str(Requirement(line)) for line in pyproject()["project"]["dependencies"]}
    assert "Requires-Python: >=3.10" in metadata
    assert "Classifier: Programming Language :: Python :: 3.10" in metadata  # the oldest, as required
    extras = {
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Provides-Extra:")
    }
    assert {"aiohttp", "fastapi", "django", "otel", "pytest"} <= extras


def test_a_clean_venv_installs_the_wheel_and_checks_against_the_sandbox(wheel: Path, tmp_path: Path) -> None:
    venv = new_venv(tmp_path / "venv", wheel)
    assert "No broken requirements found" in pip(venv, "check").stdout
    python, script = venv / "bin" / "python", venv / "bin" / "meterly"
    code = (
        "import meterly\n"
        "from meterly.sandbox import Sandbox\n"
        "assert 'site-packages' in meterly.__file__, meterly.__file__\n"
        "with Sandbox() as sb, meterly.Meterly(api_key=sb.api_key, server_url=sb.url) as client:\n"
        "    print(client.balances.check(customer_id='cus_pro', feature_id='messages').model_dump_json())\n"
    )
    result = json.loads(sh(python, "-c", code, cwd=tmp_path).stdout)
    assert (result["allowed"], result["customer_id"]) == (True, "cus_pro")

    # None of the integrations' frameworks is installed: each says which extra brings it.
    for module, extra in [
        ("meterly.integrations.fastapi", "fastapi"),
        ("meterly.integrations.django", "django"),
        ("meterly.integrations.flask", "flask"),
        ("meterly.integrations.otel", "otel"),
        ("meterly.testing.plugin", "pytest"),
    ]:
        failed = sh(python, "-c", f"import {module}", cwd=tmp_path, check=False)
        assert failed.returncode == 1
        assert failed.stderr.strip().splitlines()[-1].endswith(f"pip install 'meterly[{extra}]'"), (
            failed.stderr
        )
    plain = "import sys, meterly.testing; print([m for m in ('pytest', 'opentelemetry') if m in sys.modules])"
    assert sh(python, "-c", plain, cwd=tmp_path).stdout == "[]\n"

    # The installed command against the installed `python -m meterly.sandbox`, as a user would run them.
    port = free_port()
    server = subprocess.Popen(
        [str(python), "-m", "meterly.sandbox", "--port", str(port), "--quiet"], env=clean_env(), cwd=tmp_path
    )
    try:
        argv = [script, "--api-key", "sk_test_sandbox", "--server-url", f"http://127.0.0.1:{port}"]
        argv += ["balances", "check", "--customer-id", "cus_pro", "--feature-id", "messages"]
        for _ in range(100):  # bounded: the server needs a moment to bind
            cli = sh(*argv, cwd=tmp_path, check=False)
            if "APIConnectionError" not in cli.stderr:
                break
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["allowed"] is True
    finally:
        server.terminate()
        server.wait(timeout=10)


def readme_install_commands() -> list[str]:
    """The commands of the README's SDK Installation section, comments left out."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## SDK Installation\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readmes_install_commands_work_from_a_checkout(dist: Path, tmp_path: Path) -> None:
    commands = readme_install_commands()
    assert commands == [
        "python -m pip install .",
        "python -m pip install build",
        "python -m build",
        "python -m pip install dist/meterly-*.whl",
    ]
    # `python -m build` is the `dist` fixture (without isolation: tests fetch no build backend), its one
    # tool is in the dev environment, and the glob names exactly the wheel it writes.
    assert sh(sys.executable, "-m", "build", "--version").returncode == 0
    assert len(list(dist.glob("meterly-*.whl"))) == 1
    # `python -m pip install .` in the checkout, into a fresh environment: pip builds the wheel in an
    # isolated environment of its own, with the build backend pyproject.toml names.
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    sh(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", ".", cwd=ROOT)
    code = "import meterly; assert 'site-packages' in meterly.__file__; print(meterly.__version__)"
    assert sh(venv / "bin" / "python", "-c", code, cwd=tmp_path).stdout.strip() == dist_version(dist)


def dist_version(dist: Path) -> str:
    (wheel,) = dist.glob("meterly-*.whl")
    return wheel.name.split("-")[1]


ENGINE_SUITE = [
    "tests/engines",
    "tests/resilience/test_hot_path.py",
    "tests/integrity/test_write_outcomes.py",
    "tests/integrity/test_lifecycle.py",
]
"""Every engine's deadline, conformance and write outcomes, on real sockets."""
CORE_SUITE = [
    "tests/test_requests.py",
    "tests/test_errors.py",
    "tests/test_models.py",
    "tests/test_retries.py",
    "tests/test_raw.py",
    "tests/test_fail_open.py",
    "tests/test_loopback.py",
    "tests/unit",
    "tests/sandbox/operations",
]
"""Requests, errors, models, retries, raw answers, fail-open and the core's unit tests."""
LOWEST_SUITE = [*CORE_SUITE, *ENGINE_SUITE]
"""What runs on the lowest supported versions: the suites whose promises lean on the dependencies (the
deadline on httpx's private layout, the models on pydantic) and on the Python version."""
LOWEST_TOOLS = ["pytest>=8", "pytest-asyncio>=0.23", "pytest-xdist>=3.5", "respx>=0.21", "hypothesis"]
"""The test runner and what the suites import, at any version that installs beside the lowest pins."""


def lowest_pins(httpcore: bool = True) -> dict[str, Requirement]:
    """Each runtime dependency, and each engine extra's package with the extra's marker (httpx2 and
    pyreqwest: Python 3.11 and later), pinned at its lower bound. Without `httpcore`, httpcore is left
    to pip: httpx2 needs an h11 that httpcore 1.0.0 refuses."""
    floors = lowest_versions()
    assert set(floors) == {"httpx", "httpcore", "pydantic", "typing-extensions"}
    if not httpcore:
        del floors["httpcore"]
    pins = {name: Requirement(f"{name}=={floor}") for name, floor in floors.items()}
    for extra in ("aiohttp", "httpx2", "pyreqwest"):
        (line,) = pyproject()["project"]["optional-dependencies"][extra]
        requirement = Requirement(line)
        marker = f"; {requirement.marker}" if requirement.marker else ""
        pins[requirement.name] = Requirement(f"{requirement.name}=={_floor(requirement)}{marker}")
    return pins


def _version_of(python: Path) -> Optional[tuple[int, int]]:
    """The (major, minor) of the interpreter at `python`; None when it does not run (a pyenv shim of a
    version pyenv has not selected fails)."""
    done = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    parts = done.stdout.split()
    return (int(parts[0]), int(parts[1])) if done.returncode == 0 and len(parts) == 2 else None


def _pythons(name: str) -> list[Path]:
    """Interpreters called `name` on PATH and among pyenv's versions."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    on_path = shutil.which(name)
    return ([Path(on_path)] if on_path else []) + sorted(pyenv.glob(f"versions/*/bin/{name}"))


def oldest_python() -> Optional[Path]:
    """A Python 3.10 interpreter (the oldest the core supports)."""
    return next((p for p in _pythons("python3.10") if _version_of(p) == (3, 10)), None)


def newest_python() -> Optional[Path]:
    """The newest Python 3 interpreter here, when it is newer than this one."""
    found = [(version, python) for python in _pythons("python3") if (version := _version_of(python))]
    if not found:
        return None
    version, python = max(found)
    return python if version > sys.version_info[:2] else None


def lowest_venv(path: Path, python: Path, wheel: Path, pins: dict[str, Requirement]) -> Path:
    """A venv of `python` with the wheel, `pins` (those whose marker holds there) and the test tools;
    checks that pip sees no conflict and that each pin got exactly its version."""
    sh(python, "-m", "venv", "--without-pip", path)
    pip(path, "install", "--quiet", wheel, *map(str, pins.values()), *LOWEST_TOOLS)
    assert "No broken requirements found" in pip(path, "check").stdout
    version = sh(path / "bin" / "python", "-c", "import platform; print(platform.python_version())").stdout
    environment = {"python_version": ".".join(version.split(".")[:2]), "python_full_version": version.strip()}
    expected = {
        name: Version(next(iter(pin.specifier)).version)
        for name, pin in pins.items()
        if pin.marker is None or pin.marker.evaluate(environment)
    }
    installed = json.loads(sh(path / "bin" / "python", "-c", _INSTALLED, *pins).stdout)
    assert {name: Version(v) for name, v in installed.items() if v is not None} == expected
    return path


_INSTALLED = """
import importlib.metadata as m, json, sys

def version(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return None

print(json.dumps({name: version(name) for name in sys.argv[1:]}))
"""
"""Prints the installed version of each package named in its arguments (null: not installed)."""


def run_suite(venv: Path, *args: str) -> None:
    """pytest in `venv`, in two workers (`make environments` runs three of these at once)."""
    done = sh(
        venv / "bin" / "python",
        "-m",
        "pytest",
        "-q",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        *args,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


@pytest.mark.environments
def test_the_lowest_supported_versions_pass_the_core_and_engine_suites(wheel: Path, tmp_path: Path) -> None:
    """On Python 3.10, the oldest the core supports (where the machine has none, on this Python): every
    runtime dependency and every engine extra that installs there at its lower bound. httpx2 and pyreqwest
    install on 3.11 and later only; where they do, httpcore is left to pip, as httpx2 needs an h11 that
    httpcore 1.0.0 refuses."""
    python = oldest_python() or Path(sys.executable)
    pins = lowest_pins(httpcore=python != Path(sys.executable) or sys.version_info < (3, 11))
    run_suite(lowest_venv(tmp_path / "low", python, wheel, pins), *LOWEST_SUITE)


@pytest.mark.environments
def test_httpx2_and_pyreqwest_at_their_lower_bounds_pass_the_engine_suites(
    wheel: Path, tmp_path: Path
) -> None:
    """Where the run above was on Python 3.10, the two extras that need 3.11 get their own, on this Python."""
    if sys.version_info < (3, 11):
        pytest.skip("httpx2 and pyreqwest need Python 3.11")
    if oldest_python() is None:
        pytest.skip("the lowest-versions run above was on this Python, with httpx2 and pyreqwest")
    run_suite(
        lowest_venv(tmp_path / "low", Path(sys.executable), wheel, lowest_pins(httpcore=False)),
        *ENGINE_SUITE,
        "-k",
        "httpx2 or pyreqwest",
    )


@pytest.mark.environments
def test_the_newest_python_here_passes_the_core_and_engine_suites(wheel: Path, tmp_path: Path) -> None:
    """The newest Python the machine has (pyenv's), with every engine extra and the newest releases pip
    finds: a change of the language (Python 3.13 dropped `Annotated.__class_getitem__`) shows here."""
    python = newest_python()
    if python is None:
        pytest.skip("no Python newer than this one here (under pyenv)")
    venv = tmp_path / "newest"
    sh(python, "-m", "venv", "--without-pip", venv)
    pip(venv, "install", "--quiet", f"meterly[aiohttp,httpx2,pyreqwest] @ {wheel.as_uri()}", *LOWEST_TOOLS)
    assert "No broken requirements found" in pip(venv, "check").stdout
    run_suite(venv, *CORE_SUITE, "tests/engines", "tests/resilience/test_hot_path.py")


def test_the_readme_version_table_states_pyprojects_lower_bounds() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, floor in lowest_versions().items():
        assert f"| {name} | >= {floor}" in readme, f"README's supported versions table disagrees on {name}"
    assert f"| Python | {pyproject()['project']['requires-python'].replace('>=', '>= ')} |" in readme
