# Everything a fresh machine with python3 and make needs: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only the folders that exist yet, so a fresh branch lints cleanly.
LINT_PATHS := $(wildcard src tests bench examples scripts)

# Prism (a spec-validating mock server, from npm) for tests/fidelity/test_prism.py; installed only where
# npm exists (without node the test skips and says why).
PRISM_VERSION := 5.16.0
TOOLS := .tools
TOOLS_STAMP := $(TOOLS)/.installed-prism-$(PRISM_VERSION)

.PHONY: demo test lint typecheck unit bench gen docs clean tools

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
	PYTHONPATH=src $(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy src tests/typing
	$(BIN)/pyright -p .

$(TOOLS_STAMP):
	if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error @stoplight/prism-cli@$(PRISM_VERSION) \
		&& touch $(TOOLS_STAMP); \
	else echo "npm not found: Prism is not installed, tests/fidelity/test_prism.py will skip"; fi

tools: $(TOOLS_STAMP)

unit: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Regenerates every generated file: the resource modules, _endpoints/__init__.py and models/requestdicts.py
# from the operation declarations (src/meterly/_endpoints/) and their models; docs/models, docs/sdks,
# models/__init__.py and .speakeasy/gen.lock from the models, the registry and openapi.yaml.
gen: $(STAMP)
	$(BIN)/python -m scripts.gen

docs: gen

clean:
	rm -rf $(VENV) $(TOOLS) build dist .pytest_cache .mypy_cache .ruff_cache
