# Everything a fresh machine with python3 and make needs: `make demo`, `make test`.
PYTHON ?= python3
# Bytecode is written even where the environment turns it off: without it every pytest worker and every
# subprocess a test starts compiles the package, and pytest rewrites the assertions of every plugin's
# modules (hypothesis, schemathesis, anyio: about 280), again in each worker: 8 s of CPU per worker.
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo's own environment: the package and its three runtime dependencies (httpx, pydantic,
# typing-extensions), none of the development tools. A plain (not editable) install, so it is rebuilt
# when the package's files change.
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
PACKAGE_FILES := pyproject.toml $(shell find src/meterly -type f -not -name '*.pyc' 2>/dev/null)
# Only the folders that exist yet, so a fresh branch lints cleanly.
LINT_PATHS := $(wildcard src tests bench examples scripts)

# Prism (a spec-validating mock server, from npm) for tests/fidelity/test_prism.py; installed only where
# npm exists (without node the test skips and says why).
PRISM_VERSION := 5.16.0
TOOLS := .tools
TOOLS_STAMP := $(TOOLS)/.installed-prism-$(PRISM_VERSION)

# The inner loop (`make quick`): the unit tests of the core and the tests of its behaviour through the
# clients on a mock transport; no subprocess, no wheel, no timed socket scenario. They run in one process:
# they take about 7 s of CPU, less than starting and collecting in pytest-xdist workers would.
QUICK_TESTS := tests/unit tests/test_requests.py tests/test_retries.py tests/test_layout.py \
	tests/test_fail_open.py tests/test_hooks.py tests/test_errors.py tests/test_models.py tests/test_config.py \
	tests/test_with_options.py tests/test_raw.py tests/test_services.py tests/test_usage_track.py \
	tests/test_registry.py tests/test_declaration.py tests/test_docstrings.py tests/test_logging.py

.PHONY: demo test quick lint typecheck unit environments bench gen docs clean tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# pyright runs on the node that pyright[nodejs] installs; a first run here sets it up before any test.
	$(BIN)/pyright --version
	touch $(STAMP)

$(DEMO_STAMP): $(PACKAGE_FILES)
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/python examples/quickstart.py

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	PYTHONPATH=src $(BIN)/lint-imports

# The two checkers run side by side: each is one single-threaded process.
typecheck: $(STAMP)
	$(BIN)/mypy src tests/typing & mypy=$$!; $(BIN)/pyright -p .; pyright=$$?; wait $$mypy && exit $$pyright

$(TOOLS_STAMP):
	if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error @stoplight/prism-cli@$(PRISM_VERSION) \
		&& touch $(TOOLS_STAMP); \
	else echo "npm not found: Prism is not installed, tests/fidelity/test_prism.py will skip"; fi

tools: $(TOOLS_STAMP)

# Tests run in 4 workers (pytest-xdist), work-stealing: many tests wait on sockets and deadlines, so
# workers beyond the two cores use the time the cores would spend idle (on 2 cores, back to back: 3
# workers 152 s, 4 workers 127 s, 5 workers 123 s for 9% more CPU). Each test starts its own servers on
# free ports.
unit: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/python -m pytest -q -n 4 --dist worksteal -m "not environments"

# The tests that build virtual environments (the lowest supported versions on Python 3.10, httpx2's and
# pyreqwest's lower bounds, the newest Python here) and run suites inside them, one environment per
# worker. They run after `unit`, not beside it: each starts two pytest workers of its own, and the timed
# socket tests of both runs would share the two cores.
environments: $(STAMP)
	$(BIN)/python -m pytest -q -n 3 -m environments tests/packaging

quick: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/python -m pytest -q $(QUICK_TESTS)

test: lint typecheck unit environments

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Regenerates every generated file: the resource modules, _endpoints/__init__.py and models/requestdicts.py
# from the operation declarations (src/meterly/_endpoints/) and their models; docs/models, docs/sdks,
# models/__init__.py and .speakeasy/gen.lock from the models, the registry and openapi.yaml.
gen: $(STAMP)
	$(BIN)/python -m scripts.gen

docs: gen

clean:
	rm -rf $(VENV) $(DEMO_VENV) $(TOOLS) build dist .pytest_cache .mypy_cache .ruff_cache
