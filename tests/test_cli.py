"""The `meterly` command: exit codes 0 allowed / 1 denied / 2 error, JSON or a table, errors on stderr."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

import meterly
from meterly._declaration import Operation
from meterly._registry import OPERATIONS
from meterly.cli import main

from .conftest import API_KEY, CHECK_BODY, USAGE_BODY
from .loopback import Answer, LoopbackServer, Received, serve

README = Path(__file__).resolve().parent.parent / "README.md"


def answer(server: LoopbackServer, received: Received) -> Optional[Answer]:
    """A small scripted Meterly: customers named for the answer they get."""
    body = json.loads(received.body)
    headers = {"x-request-id": "req_cli"}
    if received.path == "/v1/usage/check":
        return server.json(200, USAGE_BODY, headers)
    customer = body["customer_id"]
    if customer == "cus_missing":
        error = {"message": "no customer cus_missing", "code": "customer_not_found"}
        return server.json(404, error, {"x-request-id": "req_404"})
    if customer == "cus_echo":
        return server.json(401, {"message": f"invalid key {API_KEY}", "code": "invalid_api_key"}, headers)
    if customer == "cus_denied":
        return server.json(200, {**CHECK_BODY, "customer_id": customer, "allowed": False}, headers)
    return server.json(200, {**CHECK_BODY, "customer_id": customer}, headers)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback server, with METERLY_API_KEY and METERLY_SERVER_URL pointing at it."""
    holder: list[LoopbackServer] = []
    with serve(lambda received: answer(holder[0], received)) as server:
        holder.append(server)
        monkeypatch.setenv("METERLY_API_KEY", API_KEY)
        monkeypatch.setenv("METERLY_SERVER_URL", server.url)
        monkeypatch.delenv("METERLY_LOG", raising=False)
        yield server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_allowed_check_prints_the_json_answer_and_exits_0(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "balances", "check", "--customer-id", "cus_123", "--feature-id", "messages")
    assert code == 0
    assert json.loads(out) == CHECK_BODY
    assert err == ""
    assert api.received[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_every_balances_check_argument_is_a_flag(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(
        capsys,
        *("balances", "check", "--customer-id", "cus_123", "--feature-id", "messages"),
        *("--entity-id", "ent_1", "--required-balance", "2.5", "--send-event", "--no-with-preview"),
        *("--properties", '{"source": "cli", "n": 1}'),
    )
    assert code == 0
    assert json.loads(api.received[0].body) == {
        "customer_id": "cus_123",
        "feature_id": "messages",
        "entity_id": "ent_1",
        "required_balance": 2.5,
        "properties": {"source": "cli", "n": 1},
        "send_event": True,
        "with_preview": False,
    }


def test_flags_left_out_are_left_out_of_the_body(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "balances", "check", "--customer-id", "cus_123", "--feature-id", "messages")
    assert json.loads(api.received[0].body) == {"customer_id": "cus_123", "feature_id": "messages"}


def test_a_denied_check_still_prints_the_answer_and_exits_1(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "balances", "check", "--customer-id", "cus_denied", "--feature-id", "messages")
    assert code == 1
    assert json.loads(out)["allowed"] is False


def test_usage_check_sends_camel_case_with_the_api_key_header(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("usage", "check", "--customer-id", "cus_123", "--feature-code", "api_calls", "--quantity", "3")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert json.loads(out) == USAGE_BODY["data"]
    assert json.loads(api.received[0].body) == {
        "customerId": "cus_123",
        "featureCode": "api_calls",
        "quantity": 3,
    }
    assert api.received[0].headers["x-api-key"] == API_KEY


def test_an_api_error_exits_2_with_its_code_and_request_id_on_stderr(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "balances", "check", "--customer-id", "cus_missing", "--feature-id", "messages"
    )
    assert code == 2
    assert out == ""
    assert err.startswith("meterly: error: NotFoundError: balancesCheck: no customer cus_missing")
    assert "status=404" in err
    assert "code=customer_not_found" in err
    assert "request_id=req_404" in err


def test_a_key_echoed_by_the_server_never_reaches_stderr(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "balances", "check", "--customer-id", "cus_echo", "--feature-id", "messages")
    assert code == 2
    assert "code=invalid_api_key" in err
    assert API_KEY not in err


def test_a_connection_error_exits_2(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERLY_SERVER_URL", f"http://127.0.0.1:{free_port()}")
    code, out, err = run(
        capsys, "balances", "check", "--customer-id", "c", "--feature-id", "f", "--no-retries"
    )
    assert code == 2
    assert out == ""
    assert err.startswith("meterly: error: APIConnectionError: balancesCheck: no response")


def test_a_missing_key_exits_2_naming_the_flag_and_the_variable(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METERLY_API_KEY")
    code, out, err = run(capsys, "balances", "check", "--customer-id", "c", "--feature-id", "f")
    assert code == 2
    assert out == ""
    assert "no API key: pass --api-key or set METERLY_API_KEY" in err
    assert api.received == []


def test_flags_override_the_environment(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERLY_API_KEY", "sk_from_env")
    monkeypatch.setenv("METERLY_SERVER_URL", f"http://127.0.0.1:{free_port()}")
    argv = ("balances", "check", "--customer-id", "c", "--feature-id", "f")
    code, _, _ = run(capsys, *argv, "--api-key", "sk_from_flag", "--server-url", api.url)
    assert code == 0
    assert api.received[0].headers["authorization"] == "Bearer sk_from_flag"


def test_connection_options_may_come_before_the_command(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = (
        "--pretty",
        "--api-key",
        "sk_before",
        "balances",
        "check",
        "--customer-id",
        "c",
        "--feature-id",
        "f",
    )
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert api.received[0].headers["authorization"] == "Bearer sk_before"
    assert out.startswith("allowed ")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["balances", "check", "--customer-id", "c"], "the following arguments are required: --feature-id"),
        (
            ["balances", "check", "--customer-id", "c", "--feature-id", "f", "--properties", "{"],
            "not valid JSON",
        ),
        (
            ["balances", "check", "--customer-id", "c", "--feature-id", "f", "--properties", "[1]"],
            "JSON object",
        ),
        (
            ["usage", "check", "--customer-id", "c", "--feature-code", "f", "--quantity", "x"],
            "invalid int value",
        ),
        (["usage", "check", "--customer-id", "c", "--feature-code", "f", "--quantity", "0"], "quantity"),
        (["balances", "check", "--customer-id", "", "--feature-id", "f"], "customer_id"),
        (["balances", "refund"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_2_before_any_request(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert complaint in err
    assert api.received == []


def test_pretty_prints_a_table_with_dotted_names_for_nested_fields(
    api: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "balances", "check", "--customer-id", "cus_123", "--feature-id", "messages", "--pretty"
    )
    assert code == 0
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines())
    assert rows["allowed"] == "true"
    assert rows["customer_id"] == "cus_123"
    assert rows["balance.remaining"] == "72.0"
    assert rows["balance.max_purchase"] == "null"
    assert rows["balance.breakdown[0].reset.interval"] == "month"
    widths = {line.index(value) for line in out.splitlines() for value in [line.split()[-1]]}
    assert len(widths) == 1  # one aligned value column


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "{balances,usage,sandbox}" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("meterly ")


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_every_operation_of_the_registry_is_a_command_with_its_request_fields(
    op: Operation[object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, op.resource, op.method_name, "--help")
    assert code == 0
    assert f"{op.method} {op.path}" in " ".join(out.split())
    names = [op.array_body.name] if op.array_body is not None else list(op.request_model.model_fields)
    for name in names:  # `async_` is `--async`
        assert f"--{name.rstrip('_').replace('_', '-')}" in out


def test_sandbox_serve_delegates_to_the_sandbox_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[list[str]] = []
    fake = types.ModuleType("meterly.sandbox.__main__")
    fake.main = lambda argv=None: calls.append(list(argv or [])) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "meterly.sandbox", types.ModuleType("meterly.sandbox"))
    monkeypatch.setitem(sys.modules, "meterly.sandbox.__main__", fake)
    assert main(["sandbox", "serve", "--port", "8787", "--seed", "seed.json"]) == 0
    assert main(["sandbox", "serve"]) == 0
    assert calls == [["--port", "8787", "--seed", "seed.json"], []]


def test_sandbox_serve_passes_the_fault_options_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[list[str]] = []
    fake = types.ModuleType("meterly.sandbox.__main__")
    fake.main = lambda argv=None: calls.append(list(argv or [])) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "meterly.sandbox", types.ModuleType("meterly.sandbox"))
    monkeypatch.setitem(sys.modules, "meterly.sandbox.__main__", fake)
    argv = ["--error-rate", "0.5", "--error-status", "429", "--retry-after", "2.0", "--latency-ms", "5.0"]
    assert main(["sandbox", "serve", *argv]) == 0
    assert main(["sandbox", "serve", "--outage", "--degraded"]) == 0
    assert calls == [
        ["--latency-ms", "5.0", "--error-rate", "0.5", "--error-status", "429", "--retry-after", "2.0"],
        ["--outage", "--degraded"],
    ]


def test_sandbox_serve_fault_options_are_the_sandbox_s_own() -> None:
    from meterly.cli import _SANDBOX_FAULTS
    from meterly.sandbox.__main__ import _parser as sandbox_parser  # pyright: ignore[reportPrivateUsage]

    flags = {flag for action in sandbox_parser()._actions for flag in action.option_strings}
    assert set(_SANDBOX_FAULTS) <= flags


def test_importing_meterly_does_not_import_the_cli() -> None:
    code = (
        "import sys, meterly\nassert 'meterly.cli' not in sys.modules\nassert 'argparse' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def installed_script() -> Path:
    script = Path(sys.executable).parent / "meterly"
    assert script.exists(), "the meterly console script is not installed (pip install -e .)"
    return script


def test_the_installed_meterly_script_runs_a_check(api: LoopbackServer) -> None:
    argv = [
        str(installed_script()),
        "balances",
        "check",
        "--customer-id",
        "cus_denied",
        "--feature-id",
        "messages",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["allowed"] is False


def test_python_dash_m_meterly_is_the_same_command(api: LoopbackServer) -> None:
    argv = [sys.executable, "-m", "meterly", "balances", "check", "--customer-id", "cus_denied"]
    argv += ["--feature-id", "messages"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["allowed"] is False
    version = subprocess.run([sys.executable, "-m", "meterly", "--version"], capture_output=True, text=True)
    assert (version.returncode, version.stdout.split()[-1]) == (0, meterly.__version__)


def test_sandbox_serve_answers_checks_with_the_sandbox_key(tmp_path: Path) -> None:
    import meterly.sandbox as sandbox

    port = free_port()
    proc = subprocess.Popen(
        [str(installed_script()), "sandbox", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        env = {**os.environ, "METERLY_API_KEY": sandbox.DEFAULT_API_KEY}
        argv = [str(installed_script()), "--server-url", f"http://127.0.0.1:{port}", "--timeout-ms", "2000"]
        argv += ["usage", "check", "--customer-id", "cus_pro", "--feature-code", "api_calls"]
        done = None
        for _ in range(50):  # bounded: up to ~10 s for the server to come up
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
            if "APIConnectionError" not in done.stderr:
                break
        assert done is not None
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["allowed"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def readme_commands() -> list[tuple[list[str], int]]:
    """The `meterly ...` lines of README's "Command line" section, with the exit code each one states."""
    commands = []
    for line in readme_shell_lines():
        if line.startswith("meterly sandbox serve"):
            continue  # serves until stopped: test_sandbox_serve_* cover it
        if line.startswith("meterly "):
            expected = re.search(r"# exit (\d)", line)
            assert expected, f"README command without '# exit N': {line}"
            commands.append((shlex.split(line, comments=True)[1:], int(expected.group(1))))
    return commands


def readme_shell_lines() -> list[str]:
    text = README.read_text()
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines()]


def test_the_readme_command_lines_run_as_documented_against_the_served_sandbox(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from meterly.sandbox import DEFAULT_API_KEY, Sandbox

    exports = [line for line in readme_shell_lines() if line.startswith("export ")]
    assert exports == [f"export METERLY_SERVER_URL=http://127.0.0.1:8787 METERLY_API_KEY={DEFAULT_API_KEY}"]
    commands = readme_commands()
    assert len(commands) >= 8
    assert {expected for _, expected in commands} == {0, 1, 2}
    with Sandbox() as sandbox:  # the demo data, on a free port instead of the documented 8787
        monkeypatch.setenv("METERLY_SERVER_URL", sandbox.url)
        monkeypatch.setenv("METERLY_API_KEY", DEFAULT_API_KEY)
        monkeypatch.delenv("METERLY_LOG", raising=False)
        for argv, expected in commands:
            code, out, err = run(capsys, *argv)
            assert code == expected, (argv, out, err)
            if expected < 2:
                assert out.strip(), argv
            else:
                assert "customer_not_found" in err, argv


def test_the_cli_help_uses_ids_of_the_demo_data(capsys: pytest.CaptureFixture[str]) -> None:
    from meterly.sandbox import DEMO_SEED

    customers = {customer["id"] for customer in DEMO_SEED["customers"]}
    features = {feature["id"] for feature in DEMO_SEED["features"]}
    for argv in (["--help"], ["balances", "check", "--help"], ["usage", "check", "--help"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        shown_customers = set(re.findall(r"--customer-id ([a-z]\S*)", out))  # not the METAVAR
        shown_features = set(re.findall(r"--feature-(?:id|code) ([a-z]\S*)", out))
        assert shown_customers, argv
        assert shown_customers <= customers, argv
        assert shown_features <= features, argv


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_each_option_s_help_is_its_sdk_argument_s_docstring_line(
    op: Operation[object], capsys: pytest.CaptureFixture[str]
) -> None:
    from meterly.cli import _argument_docs, _resource_classes

    method = getattr(_resource_classes()[op.resource], op.method_name)
    described = _argument_docs(method.__doc__ or "")
    code, out, _ = run(capsys, op.resource, op.method_name, "--help")
    assert code == 0
    flat = " ".join(out.split())  # argparse wraps the help text
    names = [op.array_body.name] if op.array_body is not None else list(op.request_model.model_fields)
    for name in names:
        assert described.get(name), f"{op.operation_id}: no docstring line for {name}"
        assert " ".join(described[name].split()) in flat, name


def test_balances_track_batch_track_lock_and_finalize_from_the_shell(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from meterly.sandbox import DEFAULT_API_KEY, Sandbox

    with Sandbox() as sandbox:
        monkeypatch.setenv("METERLY_SERVER_URL", sandbox.url)
        monkeypatch.setenv("METERLY_API_KEY", DEFAULT_API_KEY)
        code, out, err = run(
            capsys, "balances", "track", "--customer-id", "cus_pro", "--event-name", "chat_message", "--async"
        )
        assert (code, err) == (0, "")
        assert json.loads(out)["balance"] is None
        assert sandbox.engine.history[-1].body == {
            "customer_id": "cus_pro",
            "event_name": "chat_message",
            "async": True,
        }
        events = '[{"customer_id": "cus_pro", "feature_id": "messages", "idempotency_key": "cli-1"}]'
        code, out, err = run(capsys, "balances", "batch_track", "--events", events)
        assert (code, err, json.loads(out)) == (0, "", {"success": True})
        lock = ("--required-balance", "3", "--lock", '{"lock_id": "cli-lock"}')
        code, out, _ = run(
            capsys, "balances", "check", "--customer-id", "cus_pro", "--feature-id", "messages", *lock
        )
        assert code == 0
        code, out, err = run(capsys, "balances", "finalize", "--lock-id", "cli-lock", "--action", "release")
        assert (code, err, json.loads(out)) == (0, "", {"success": True})
        code, _, err = run(capsys, "balances", "finalize", "--lock-id", "cli-lock", "--action", "undo")
        assert code == 2
        assert "invalid choice: 'undo'" in err


def test_usage_track_records_an_event_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from meterly.sandbox import DEFAULT_API_KEY, Sandbox

    with Sandbox() as sandbox:
        monkeypatch.setenv("METERLY_SERVER_URL", sandbox.url)
        monkeypatch.setenv("METERLY_API_KEY", DEFAULT_API_KEY)
        code, out, err = run(
            capsys,
            *("usage", "track", "--customer-id", "cus_pro", "--feature-code", "image", "--value", "2"),
            *("--timestamp", "2026-12-01T09:30:00Z", "--properties", '{"model": "gpt-5"}'),
        )
        assert (code, err) == (0, "")
        event = json.loads(out)
        assert (event["featureCode"], event["value"], event["ts"]) == ("image", 2.0, "2026-12-01T09:30:00Z")
        assert event["properties"] == [{"property": "model", "value": "gpt-5"}]
        assert event["consumption"]["blocked"] is False
        assert sandbox.engine.history[-1].body == {
            "customerId": "cus_pro",
            "featureCode": "image",
            "value": 2.0,
            "timestamp": "2026-12-01T09:30:00Z",
            "properties": [{"property": "model", "value": "gpt-5"}],
        }
        wallet = ("usage", "track", "--customer-id", "cus_wallet", "--feature-code", "sms")
        code, out, _ = run(capsys, *wallet, "--value", "1000")
        assert code == 0  # a write exits 0 once recorded, even when its balance blocked the deduction
        assert json.loads(out)["consumption"]["blocked"] is True
        image = ("usage", "track", "--customer-id", "cus_pro", "--feature-code", "image")
        bad, out, err = run(capsys, *image, "--timestamp", "soon")
        assert (bad, out) == (2, "")
        assert "timestamp" in err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_bad_sandbox_port_is_a_usage_error_not_a_traceback(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "serve", "--port", port]) == 2
    err = capsys.readouterr().err
    assert "--port" in err
    assert "port number" in err
    assert "Traceback" not in err


def test_a_taken_sandbox_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sandbox", "serve", "--port", str(port)]) != 0
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}" in err
    assert "Traceback" not in err
