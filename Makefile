# The two commands a newcomer runs:  make run  (pipeline on the bundled corpus -> ./lake)
#                                    make test (the whole test suite)
# Each creates .venv and installs what it needs first.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# Two pytest-xdist workers (one per core), whole modules each, longest first (tests/conftest.py).
# XDIST= runs in one process.
# `make test` ends with the 15 slowest tests (where the suite's time goes).
XDIST  ?= -n 2 --dist loadfile --no-loadscope-reorder

# Offline / air-gapped machines: Delta's jars come from a local Maven repository when this file exists
# (CI has ../shared/maven). Set DELTA_IVY_SETTINGS yourself to use another one; unset, Maven Central is used.
SHARED_IVY := $(abspath ../shared/maven/ivysettings.xml)
ifeq ($(origin DELTA_IVY_SETTINGS), undefined)
  ifneq ($(wildcard $(SHARED_IVY)),)
    export DELTA_IVY_SETTINGS := $(SHARED_IVY)
  endif
endif

.PHONY: venv run test test-fast bench dist docs clean-lake clean

$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=/path/to/python3.11)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

venv: $(BIN)/.installed

run: venv
	$(PY) jobs/pipeline.py --env local

test: venv
	$(PY) -m pytest -q --durations=15 $(XDIST)

test-fast: venv
	$(PY) -m pytest -q $(XDIST) -m "not slow"

# Cold / warm / one new video / scaling / baseline script: benchmarks/results/pipeline_bench.{json,md} (~40 min)
bench: venv
	$(PY) benchmarks/pipeline_bench.py

# docs/tables.md is generated from schemas/*.sql (a test fails when it is stale)
docs: venv
	$(PY) -m transcript_lake.schemas > docs/tables.md

# The library as a wheel for spark-submit --py-files (conf/ and schemas/ are bundled inside)
dist: venv
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .

clean-lake:
	rm -rf lake

clean: clean-lake
	rm -rf $(VENV)
