# Everything a fresh machine with python3 and make needs: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only the folders that exist yet, so a fresh branch lints cleanly.
LINT_PATHS := $(wildcard src tests bench examples scripts)

.PHONY: demo test lint typecheck unit bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# pyright runs on the node that pyright[nodejs] installs; a first run here sets it up before any test.
	$(BIN)/pyright --version
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy src tests/typing
	$(BIN)/pyright -p .

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Regenerates docs/models, docs/sdks and .speakeasy/gen.lock from the models, operations and openapi.yaml.
docs: $(STAMP)
	$(BIN)/python -m scripts.gen_docs

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
