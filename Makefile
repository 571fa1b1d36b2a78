# The README's commands. Everything is installed from nothing on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed

.PHONY: run test bench bench-scale lint format chromium seed reset-demo clean

$(RUNTIME_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

## make run: seed the demo data, start the demo back ends and the app on 127.0.0.1:8501
run: $(RUNTIME_STAMP)
	$(PY) -m lib.demo.launch

## make test: install what the tests need (dev packages, Debian's Chromium) and run every test
test: $(DEV_STAMP) chromium
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench: time the read paths (TPC-H in PostgreSQL), approvals, masking, the Orders page, the
## analyst dashboard (first render, a filter change, its XLSX and PDF reports), a 50k-row sheet
## and the customer_orders workflow (1,000 order API calls, one at a time vs concurrent, APIs as
## their own processes); JSON in test-artifacts/bench/. BENCH_ARGS="--sf 1" for the issue's
## scale factor.
bench: $(DEV_STAMP)
	$(PY) -m bench $(BENCH_ARGS)

## make bench-scale: 1.5M orders and 150k customers built once into SQLite, PostgreSQL and
## MariaDB, then each page's figures on each, the naive read_sql baseline beside them, the
## memory of one process with 10 sessions and a 20-session load test; JSON and a table in
## test-artifacts/bench/scale.json and scale.md. BENCH_SCALE_ARGS="--orders 200000" for less.
bench-scale: $(DEV_STAMP) chromium
	$(PY) -m bench.scale $(BENCH_SCALE_ARGS)

# Debian's Chromium for the browser tests, and a Korean font so screenshots show Hangul.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi nanum; } || { \
	  echo "Installing Debian's Chromium and fonts-nanum for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $$SUDO apt-get install -y -qq chromium fonts-nanum >/dev/null; }

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make seed [ORDERS=1500000 CUSTOMERS=150000] [SERVERS=1]: the demo data at any size (default:
## the small embedded demo); SERVERS=1 puts the customers in PostgreSQL and the shop in MariaDB
## on this machine's servers and writes var/scale/backoffice.toml for BACKOFFICE_CONFIG.
seed: $(RUNTIME_STAMP)
	$(PY) -m lib.demo.seed $(if $(ORDERS),--orders $(ORDERS)) $(if $(CUSTOMERS),--customers $(CUSTOMERS)) $(if $(SERVERS),--servers)

reset-demo: $(RUNTIME_STAMP)
	$(PY) -m lib.demo.seed --force

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache
