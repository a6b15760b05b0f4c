"""The generated keywords TypedDicts (`meterly._keywords`): each names exactly its client's constructor
keywords, and `import meterly` does not load them."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from meterly import AsyncMeterly, Meterly
from meterly._keywords import AsyncMeterlyKeywords, MeterlyKeywords

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(
    ("client", "keywords"), [(Meterly, MeterlyKeywords), (AsyncMeterly, AsyncMeterlyKeywords)]
)
def test_the_keywords_typeddict_names_exactly_the_constructors_keywords(client: type, keywords: type) -> None:
    parameters = [name for name in inspect.signature(client.__init__).parameters if name != "self"]
    assert list(keywords.__annotations__) == parameters


def test_import_and_construct_leave_the_keywords_unloaded() -> None:
    script = "import sys, meterly; meterly.Meterly(api_key='sk'); print('meterly._keywords' in sys.modules)"
    env = {"PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
