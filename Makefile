# The two commands a newcomer runs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
BOOK ?= data/sample
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup run test lint format bench bench-ingest bench-validate bench-features \
	bench-optimize bench-pipeline bench-simulation scenarios sample dagster-dev clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# bytecode compiled once here: every Dagster step process imports the libraries again,
# and with PYTHONDONTWRITEBYTECODE set nothing would ever be cached
$(VENV)/.synced: uv.lock pyproject.toml Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

## Set up, then materialize the shipped sample book's latest business date through every stage.
run: setup
	$(BIN)/rebalance run --book $(BOOK) --latest

## Set up, then run the test suite (fast; slow scale runs live in benchmarks/).
test: setup
	$(BIN)/pytest -q -n 2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Kill runs at random points and run dates concurrently (minutes; not in `make test`).
.PHONY: test-reliability
test-reliability: setup
	$(BIN)/pytest -q -s -m reliability tests/reliability

## One sample date on dagster-celery (Postgres instance, Redis broker, two workers on
## loopback, started and stopped by tests/distributed/services.sh) against the multiprocess
## run; installs postgresql and redis-server as root when missing. Not in `make test`.
.PHONY: test-distributed
test-distributed: setup
	$(UV) sync --frozen --group distributed
	$(BIN)/pytest -q -s -m distributed tests/distributed

scenarios: setup
	$(BIN)/pytest -q tests/scenario

sample: setup
	$(BIN)/rebalance generate --sample --out $(BOOK)

## Stage benchmarks, then one date end to end at 300 and 10k accounts (minutes).
## BENCH_ARGS="--with-100k" adds 100k accounts (long); "--in-process" runs steps in one process.
bench: bench-ingest bench-validate bench-features bench-optimize bench-pipeline bench-simulation

bench-ingest: setup
	$(BIN)/python benchmarks/bench_ingest.py

bench-validate: setup
	$(BIN)/python benchmarks/bench_validate.py

bench-features: setup
	$(BIN)/python benchmarks/bench_features.py

bench-optimize: setup
	$(BIN)/python benchmarks/bench_optimize.py

bench-pipeline: setup
	$(BIN)/python benchmarks/bench_pipeline.py $(BENCH_ARGS)

bench-simulation: setup
	$(BIN)/python benchmarks/bench_simulation.py $(BENCH_ARGS)

## The Dagster UI on the instance `rebalance run` writes to ($REBALANCE_HOME/dagster, default
## var/dagster) on port DAGSTER_PORT, the data docs it links on DOCS_PORT; Ctrl-C stops both.
DAGSTER_PORT ?= 3000
DOCS_PORT ?= 3001
dagster-dev: setup
	$(BIN)/rebalance ui --port $(DAGSTER_PORT) --docs-port $(DOCS_PORT)

clean:
	rm -rf var $(VENV) $(TOOLS)

## Check the Dagster UI in headless Chromium (installs Debian's chromium as root when missing).
.PHONY: browser-test
browser-test: setup
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "browser-test: /usr/bin/chromium is missing; run as root to install it" >&2; exit 1; fi; \
		apt-get update && apt-get install -y chromium; \
	fi
	$(BIN)/pytest -q -m browser tests/browser

## Every policy variant of the full simulation configuration, a variant per core (the
## cost/benefit ones first), then its metrics and report under var/simulation. About 4.5
## minutes a cost/benefit variant (every account solved every day), under 2 a calendar or
## band variant (only accounts with a mandate or a due calendar day are solved): all 21
## took 27 minutes 36 seconds on 2 otherwise idle cores (`make bench-simulation` per day).
.PHONY: simulate
simulate: setup
	$(BIN)/rebalance simulate --config rebalance_pipeline/simulation/configs/full.yaml --out var/simulation

## The simulation invariants over the whole small configuration (minutes; not in `make test`).
## A book with a custodian adapter written in a test, through `rebalance run` (~30 s).
.PHONY: test-custodian-run
test-custodian-run: setup
	$(BIN)/pytest -q -m custodian_run tests/ingest/test_toy_custodian.py

.PHONY: test-simulation
test-simulation: setup
	$(BIN)/pytest -q -n 2 -m simulation tests/simulation
