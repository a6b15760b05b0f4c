""".speakeasy/ holds generation settings true of this SDK: checked against pyproject.toml and the code."""

from __future__ import annotations

import re
import sys
from typing import Any, Dict

import yaml

import meterly
from meterly import errors
from meterly._config import API_KEY_ENV, DEFAULT_TIMEOUT_MS, SERVER_URL_ENV
from tests.docs.codeblocks import ROOT
from tests.docs.contract import load_openapi

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _yaml(name: str) -> Dict[str, Any]:
    data: Dict[str, Any] = yaml.safe_load((ROOT / ".speakeasy" / name).read_text(encoding="utf-8"))
    return data


GEN = _yaml("gen.yaml")
PYTHON = GEN["python"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _requirements(specs: list[str]) -> Dict[str, str]:
    """`{"httpx": ">=0.25,<1"}` from `["httpx>=0.25,<1"]`; environment markers are dropped."""
    parsed = {}
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+(?:\[[A-Za-z0-9_,]+\])?)\s*([^;]*)(;.*)?", spec)
        assert match, spec
        parsed[match[1].lower()] = match[2].replace(" ", "")
    return parsed


def test_package_name_and_version_match_pyproject_and_code() -> None:
    assert PYTHON["packageName"] == PROJECT["name"] == meterly.__name__
    assert PYTHON["moduleName"] == meterly.__name__
    assert PYTHON["version"] == meterly.__version__
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/meterly/_version.py"


def test_description_authors_and_python_version_match_pyproject() -> None:
    assert PYTHON["description"] == PROJECT["description"]
    assert PYTHON["authors"] == [author["name"] for author in PROJECT["authors"]]
    assert PYTHON["pythonVersion"] == PROJECT["requires-python"]


def test_dependencies_match_pyproject() -> None:
    assert PYTHON["additionalDependencies"]["main"] == _requirements(PROJECT["dependencies"])
    dev = {
        name: spec
        for name, spec in _requirements(PROJECT["optional-dependencies"]["dev"]).items()
        if name != "tomli"  # only a backport for Python 3.10
    }
    assert PYTHON["additionalDependencies"]["dev"] == dev


def test_sdk_class_and_error_names_exist() -> None:
    assert GEN["generation"]["sdkClassName"] == meterly.Meterly.__name__
    assert f"Async{GEN['generation']['sdkClassName']}" == meterly.AsyncMeterly.__name__
    assert issubclass(getattr(errors, PYTHON["defaultErrorName"]), getattr(errors, PYTHON["baseErrorName"]))


def test_env_var_prefix_matches_the_variables_the_sdk_reads() -> None:
    assert API_KEY_ENV.startswith(PYTHON["envVarPrefix"] + "_")
    assert SERVER_URL_ENV.startswith(PYTHON["envVarPrefix"] + "_")


def test_retry_defaults_match_the_code_and_openapi() -> None:
    # openapi.yaml's x-speakeasy-retries is checked against the code's default policy by
    # tests/docs/test_contract.py::test_retry_extension_matches_the_default_policy; equal to it, gen.yaml
    # matches the code too.
    assert GEN["generation"]["retries"] == load_openapi()["x-speakeasy-retries"]
    assert GEN["generation"]["timeoutMs"] == DEFAULT_TIMEOUT_MS


def test_workflow_points_at_openapi_and_the_python_target() -> None:
    workflow = _yaml("workflow.yaml")
    ((target_name, target),) = workflow["targets"].items()
    assert target_name == PROJECT["name"]
    assert target["target"] == "python"
    source = workflow["sources"][target["source"]]
    assert [(ROOT / entry["location"]).resolve() for entry in source["inputs"]] == [ROOT / "openapi.yaml"]


def test_the_workflow_cannot_overwrite_the_sdk() -> None:
    """Speakeasy writes its whole target folder: it must be a scratch folder, never the repository."""
    for target in _yaml("workflow.yaml")["targets"].values():
        output = (ROOT / target["output"]).resolve()
        assert output.is_relative_to(ROOT / ".speakeasy"), output
        assert output != (ROOT / ".speakeasy").resolve()
        assert "publish" not in target
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".speakeasy/out/" in ignored


def test_the_lock_says_who_writes_it() -> None:
    text = (ROOT / ".speakeasy" / "gen.lock").read_text(encoding="utf-8")
    assert text.startswith("# Written by `make gen` (scripts/gen.py); do not edit.\n")
    assert "scripts/gen.py" in _yaml("gen.lock")["management"]["generator"]


def test_lock_records_the_versions_it_was_generated_for() -> None:
    lock = _yaml("gen.lock")
    assert lock["management"]["releaseVersion"] == meterly.__version__
    assert lock["management"]["docVersion"] == load_openapi()["info"]["version"]
