"""A worker that imports the SDK once, then forks a fresh child per example block, so each block runs in
its own process without paying for Python and the SDK's imports again.

Protocol, one JSON object per line: the parent writes {"script", "shown", "cwd", "env", "stdout",
"stderr", "timeout", "pytest"}; the worker answers {"returncode"} when the child has exited. With
"pytest" (a list of arguments), the child runs `pytest.main` on them instead of the script.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

import httpx  # noqa: F401 - imported once here, inherited by every forked child
import pydantic  # noqa: F401
import pytest

import meterly  # noqa: F401


def _run_child(job: dict[str, object]) -> None:
    """In the forked child: redirect output, run the script under the page's name, exit with its status."""
    status = 0
    try:
        signal.alarm(int(str(job["timeout"])))  # the default action of SIGALRM ends the child
        for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
            target = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        os.chdir(str(job["cwd"]))
        os.environ.clear()
        os.environ.update(job["env"])  # type: ignore[arg-type]
        script = str(job["script"])
        sys.argv = [script]
        arguments = job.get("pytest")
        if isinstance(arguments, list):
            status = int(pytest.main([str(argument) for argument in arguments]))
            return
        with open(script, encoding="utf-8") as file:
            code = compile(file.read(), str(job["shown"]), "exec")
        exec(code, {"__name__": "__main__", "__file__": script})
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def main() -> None:
    """Serve jobs from stdin until it closes."""
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_child(job)
        _, wait_status = os.waitpid(pid, 0)
        returncode = os.waitstatus_to_exitcode(wait_status)
        sys.stdout.write(json.dumps({"returncode": returncode}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
