"""Finding the ```python blocks of the Markdown docs and running each one in its own interpreter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
REAL_SERVERS = ("https://api.meterly.dev", "https://api.useautumn.com", "https://commet.co")
"""The real services' hosts. A block that talks to one needs a real account, says so in the line right
above it, and is not run (tests never touch the internet); no block is pointed elsewhere behind the
reader's back."""
NEEDS_ACCOUNT = re.compile(r"^Needs a real (Autumn|Commet|Meterly)( and a real (Autumn|Commet))? account\b")
"""The line right above a block that cannot run against the sandbox, and why."""
BLOCK_TIMEOUT_S = 60

_BOOT = (
    "import sys; path, shown = sys.argv[1], sys.argv[2]; sys.argv = [path]; "
    "code = compile(open(path, encoding='utf-8').read(), shown, 'exec'); "
    "exec(code, {'__name__': '__main__', '__file__': path})"
)
"""Runs a script under the name of the Markdown page, so a traceback reads `File "README.md", line 42`."""

_FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+-]*)")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: where it is (its first code line, 1-based) and what it says."""

    path: Path
    line: int
    language: str
    code: str
    above: str = ""
    """The last non-blank line before the opening fence."""
    closed: bool = True
    """False when the page ends before the block's closing fence."""

    @property
    def where(self) -> str:
        """`README.md:42`, relative to the repository root."""
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}"

    @property
    def needs_account(self) -> Optional[str]:
        """Why the block cannot run against the sandbox ("Needs a real Autumn account"), or None."""
        match = NEEDS_ACCOUNT.match(self.above.strip().strip("*_").strip())
        return match[0] if match else None

    @property
    def is_pytest_file(self) -> bool:
        """A complete pytest module, run with `python -m pytest` instead of `python`."""
        return re.search(r"^(async\s+)?def test_", self.code, re.MULTILINE) is not None


def doc_files() -> List[Path]:
    """Every Markdown page whose examples must run: README, USAGE, the project's own pages, and docs/."""
    files = [
        ROOT / "README.md",
        ROOT / "USAGE.md",
        ROOT / "CONTRIBUTING.md",
        ROOT / "CHANGELOG.md",
        *sorted((ROOT / "docs").rglob("*.md")),
    ]
    return [path for path in files if path.exists()]


def code_blocks(path: Path, text: Optional[str] = None) -> List[CodeBlock]:
    """The fenced code blocks of a Markdown page, in order."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).split("\n")
    blocks: List[CodeBlock] = []
    index = 0
    while index < len(lines):
        match = _FENCE_OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        above = next((line for line in reversed(lines[:index]) if line.strip()), "")
        body: List[str] = []
        start = index + 2
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:] if lines[index][:indent].strip() == "" else lines[index])
            index += 1
        closed = index < len(lines)
        blocks.append(CodeBlock(path, start, match["info"].lower(), "\n".join(body) + "\n", above, closed))
        index += 1
    return blocks


def python_blocks(paths: Optional[List[Path]] = None) -> List[CodeBlock]:
    """Every ```python block of the given pages (default: all doc files)."""
    return [
        block
        for path in (doc_files() if paths is None else paths)
        for block in code_blocks(path)
        if block.language in ("python", "py", "python3")
    ]


def block_env(server_url: str, api_key: str) -> Dict[str, str]:
    """The environment a block runs in: the sandbox's URL and a key, nothing else of Meterly's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("METERLY_")}
    env.update(METERLY_SERVER_URL=server_url, METERLY_API_KEY=api_key, PYTHONDONTWRITEBYTECODE="1")
    return env


class BlockRunner:
    """Runs blocks, each in its own process: forked from a worker that imported the SDK and pytest once
    (fast), or, where fork is missing, a fresh interpreter."""

    def __init__(self, server_url: str, api_key: str) -> None:
        self.server_url = server_url
        self.api_key = api_key
        self._lock = threading.Lock()
        self._worker: Optional[subprocess.Popen[str]] = None
        if hasattr(os, "fork"):
            self._worker = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("block_worker.py"))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=block_env(server_url, api_key),
            )

    def close(self) -> None:
        """Stop the worker."""
        if self._worker is not None:
            assert self._worker.stdin is not None
            assert self._worker.stdout is not None
            self._worker.stdin.close()
            self._worker.wait(timeout=BLOCK_TIMEOUT_S)
            self._worker.stdout.close()
            self._worker = None

    def __enter__(self) -> BlockRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, block: CodeBlock) -> subprocess.CompletedProcess[str]:
        """Run one block, as written, against the sandbox the environment names.

        The code is padded and compiled under the page's name, so a traceback reads
        `File "README.md", line 42`.
        """
        padded = "\n" * (block.line - 1) + block.code
        shown = block.where.rsplit(":", 1)[0]
        env = block_env(self.server_url, self.api_key)
        with tempfile.TemporaryDirectory(prefix="docblock-") as tmp:
            stem = re.sub(r"\W", "_", block.where)
            script = Path(tmp) / (f"test_{stem}.py" if block.is_pytest_file else f"{stem}.py")
            script.write_text(padded, encoding="utf-8")
            if block.is_pytest_file:
                # As in a user's project: the meterly plugin is the only one (the development environment
                # has many more, whose loading would also make each block take seconds).
                env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
                arguments = ["-q", "-p", "no:cacheprovider", "-p", "meterly.testing.plugin", "--rootdir", tmp]
                arguments.append(str(script))
                if self._worker is None:
                    return _run([sys.executable, "-m", "pytest", *arguments], tmp, env)
                return self._run_forked(script, shown, tmp, env, pytest=arguments)
            if self._worker is None:
                return _run([sys.executable, "-c", _BOOT, str(script), shown], tmp, env)
            return self._run_forked(script, shown, tmp, env)

    def _run_forked(
        self, script: Path, shown: str, cwd: str, env: Dict[str, str], pytest: Optional[List[str]] = None
    ) -> subprocess.CompletedProcess[str]:
        out, err = Path(cwd) / "stdout.txt", Path(cwd) / "stderr.txt"
        job = {
            "script": str(script),
            "shown": shown,
            "cwd": cwd,
            "env": env,
            "stdout": str(out),
            "stderr": str(err),
            "timeout": BLOCK_TIMEOUT_S,
            "pytest": pytest,
        }
        with self._lock:
            assert self._worker is not None
            assert self._worker.stdin
            assert self._worker.stdout
            self._worker.stdin.write(json.dumps(job) + "\n")
            self._worker.stdin.flush()
            answer = self._worker.stdout.readline()
        if not answer:
            raise RuntimeError("the example worker died")
        returncode = int(json.loads(answer)["returncode"])
        read = lambda path: path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""  # noqa: E731
        return subprocess.CompletedProcess([str(script)], returncode, read(out), read(err))


def _run(command: List[str], cwd: str, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S, check=False
    )


def failure_report(block: CodeBlock, result: subprocess.CompletedProcess[str]) -> str:
    """Why a block failed, starting with where it is."""
    output = (result.stdout + result.stderr).strip().split("\n")
    tail = "\n".join(output[-30:])
    return f"the example at {block.where} failed (exit {result.returncode}):\n{tail}"


@dataclass(frozen=True)
class TypeCheck:
    """What one strict type checker said about a set of files."""

    checker: str
    returncode: int
    output: str


def strict_type_check(directory: Path, files: List[Path]) -> List[TypeCheck]:
    """mypy --strict and pyright (strict) on `files` (in `directory`) as a user's project would run them:
    the files alone, the SDK of this checkout on the path, in one run of each checker."""
    src = str(ROOT / "src")
    env = {**os.environ, "MYPYPATH": src}
    names = [str(path) for path in files]
    (directory / "mypy.ini").write_text("[mypy]\nstrict = True\npython_version = 3.10\n", encoding="utf-8")
    cache = str(ROOT / ".mypy_cache" / "user-code")
    config = {
        "typeCheckingMode": "strict",
        "pythonVersion": "3.10",
        "extraPaths": [src],
        "venvPath": str(Path(sys.prefix).parent),
        "venv": Path(sys.prefix).name,
        "include": [path.name for path in files],
    }
    (directory / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    # Both checkers run at once: each is a single-threaded process, and a test suite's other workers
    # often wait on sockets meanwhile.
    commands = {
        "mypy": [sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes",
                 "--config-file", str(directory / "mypy.ini"), "--cache-dir", cache, *names],
        "pyright": [str(Path(sys.executable).parent / "pyright"), "-p", str(directory)],
    }  # fmt: skip
    running = {
        checker: subprocess.Popen(
            argv, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for checker, argv in commands.items()
    }
    results = []
    try:
        for checker, process in running.items():
            output, _ = process.communicate(timeout=300)
            results.append(TypeCheck(checker, process.returncode, output))
    finally:
        for process in running.values():
            if process.poll() is None:  # a checker that timed out is not left running
                process.kill()
                process.wait()
    return results
