# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU build of torch that this machine keeps on disk; installed first so that no
# dependency resolution ever pulls a multi-GB CUDA build.  pyproject allows newer torch.
TORCH  ?= torch==2.13.0

.PHONY: run test lint typecheck bench bench-service approximation clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# The service with its embedded defaults: SQLite job store and models in ./relupde-data,
# a LocalCluster of RELUPDE_WORKERS worker processes, listening on 127.0.0.1:8000.
HOST ?= 127.0.0.1
PORT ?= 8000
run: $(VENV)/.installed
	$(VENV)/bin/relupde serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: $(VENV)/.installed lint typecheck
	$(VENV)/bin/pytest -q -n 2

bench: $(VENV)/.installed
	$(PY) bench/derivatives.py

bench-service: $(VENV)/.installed
	$(PY) bench/service_throughput.py

# relupde's own accuracy suite (bench/suite/*.json, not the examples): adam against auto.
.PHONY: bench-suite
bench-suite: $(VENV)/.installed
	$(PY) bench/suite.py $(ARGS)

# The approximation experiments of docs/approximation.md (the source papers' claims): every figure
# and JSON result there, regenerated (~20 min on 2 cores).
approximation: $(VENV)/.installed
	$(PY) bench/approximation.py all --out docs/approximation

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# relupde against DeepXDE: installs the `peers` extra of pyproject.toml (deepxde,
# PyTorch backend; never a test dependency) and runs bench/peers.py.  Pass options with
# ARGS, e.g. make bench-peers ARGS="--only transport-1d --steps-scale 0.2 --out bench/out/peers.md".
.PHONY: bench-peers
bench-peers: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e ".[peers]"
	DDE_BACKEND=pytorch $(PY) bench/peers.py $(ARGS)

# P1 finite elements (scikit-fem, the extra "fem") at relupde's number of unknowns.
.PHONY: bench-fem
bench-fem: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e ".[fem]"
	$(PY) bench/fem.py $(ARGS)
