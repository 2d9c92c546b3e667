# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU build of torch that this machine keeps on disk; installed first so that no
# dependency resolution ever pulls a multi-GB CUDA build.  pyproject allows newer torch.
TORCH  ?= torch==2.13.0

.PHONY: run test lint typecheck bench clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# Until the service lands (issue: service/), `make run` runs the most useful thing that
# exists: the self-check of the network calculus, then a solve of an example spec.
run: $(VENV)/.installed
	$(VENV)/bin/relupde check
	$(VENV)/bin/relupde solve examples/transport-1d.json --out relupde-data/models/transport-1d

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: $(VENV)/.installed lint typecheck
	$(VENV)/bin/pytest -q -n 2

bench: $(VENV)/.installed
	$(PY) bench/derivatives.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
