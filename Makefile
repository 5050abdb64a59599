# Two commands: `make demo` runs a simulated school with the service; `make test` runs the checks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest runs in this many worker processes (pytest-xdist); 0 runs it in one.
PYTEST_WORKERS ?= 2

.PHONY: demo test lint typecheck pytest system-deps bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "canteen-monitor needs Python >= 3.11; $(PYTHON) is $$($(PYTHON) --version)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/canteen demo

test: $(STAMP) system-deps lint typecheck pytest

system-deps:
	@scripts/ensure-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS)

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.sim
	$(BIN)/python -m bench.fuzz

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache *.egg-info
