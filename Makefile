# statecap: `make run` builds the atlas and runs the main job; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STATECAP := $(VENV)/bin/statecap
DB ?= out/atlas.duckdb
REPORT ?= out/report.html
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test check lint typecheck bench install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[io,sim,web]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[all]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test

run: $(VENV)/.installed-run
	@mkdir -p out
	$(STATECAP) build --db $(DB)
	$(STATECAP) summary --db $(DB)
	$(STATECAP) calibrate --db $(DB)
	$(STATECAP) report --db $(DB) --out $(REPORT)
	@echo "report:    $(abspath $(REPORT))"
	@echo "dashboard: http://$(HOST):$(PORT)/  (API docs at /docs; Ctrl-C stops it)"
	$(STATECAP) serve --db $(DB) --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(VENV)/bin/pytest -n auto --dist loadgroup -q

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check statecap tests bench
	$(VENV)/bin/ruff format --check statecap tests bench

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy statecap

check: lint typecheck test

bench: $(VENV)/.installed-test
	$(PY) -m bench

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
