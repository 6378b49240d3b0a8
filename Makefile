# CX Platform developer tasks. Needs only Python 3.11+ and make (GNU make, or macOS make 3.81).
# `make run` starts everything with demo data; `make test` runs every check CI runs.

PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help venv run test services services-stop status lint format seed-large bench clean

help:
	@echo "make run            migrate, seed demo data and serve http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	@echo "make test           lint, checks and pytest against throwaway embedded services (what CI runs)"
	@echo "make services       start the embedded PostgreSQL and Redis in the background (.cx/env)"
	@echo "make services-stop  stop them"
	@echo "make status         show what is running"
	@echo "make lint / format  ruff + import-linter / rewrite code in the house style"
	@echo "make seed-large     10,000 accounts and 1,000,000 tickets into the running stack"
	@echo "make bench          run the benchmarks"
	@echo "make clean          remove caches (keeps .venv and the data in .cx/)"
	@echo "Options: PORT=8001, PYTHON=python3.12, PYTEST_ARGS=\"-k tickets\""

venv: $(VENV)/.installed

# (Re)install when pyproject.toml changes. The marker is written last, so a failed install
# is retried by the next make.
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "CX Platform needs Python 3.11 or newer, but $(PYTHON) was not found."; \
	  echo "Install Python 3.11+ or name one, e.g.: make $(MAKECMDGOALS) PYTHON=python3.12"; \
	  exit 1; }
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 11))" >/dev/null 2>&1 || { \
	  echo "CX Platform needs Python 3.11 or newer, but $(PYTHON) is: $$($(PYTHON) --version 2>&1 | head -n 1)"; \
	  echo "Install Python 3.11+ or name one, e.g.: make $(MAKECMDGOALS) PYTHON=python3.12"; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -e ".[dev]"
	@touch $@

run: $(VENV)/.installed
	PORT=$(PORT) $(BIN)/python -m cxplatform.devstack run

test: $(VENV)/.installed
	$(BIN)/python -m cxplatform.devstack test $(PYTEST_ARGS)

services: $(VENV)/.installed
	$(BIN)/python -m cxplatform.devstack start

services-stop: $(VENV)/.installed
	$(BIN)/python -m cxplatform.devstack stop

status: $(VENV)/.installed
	$(BIN)/python -m cxplatform.devstack status

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Uses the services of a running `make run` or `make services` (refuses if there are none).
seed-large: $(VENV)/.installed
	$(BIN)/python -m cxplatform.devstack manage seed_demo --accounts 10000 --tickets 1000000

# Against DATABASE_URL if set, else the running dev stack (`make services`, `make seed-large`).
bench: $(VENV)/.installed
	@if [ -z "$$DATABASE_URL" ]; then eval "$$($(BIN)/python -m cxplatform.devstack env)" || exit 1; fi; \
	  $(BIN)/python -m bench.run && $(BIN)/python -m bench.sla && $(BIN)/python -m bench.success && \
	  $(BIN)/python -m bench.metrics_nightly && $(BIN)/python -m bench.metrics_health && \
	  $(BIN)/python -m bench.metrics_escalations && $(BIN)/python -m bench.metrics_reports && \
	  $(BIN)/python -m bench.api

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis .import_linter_cache
	find . \( -path ./$(VENV) -o -path ./.cx \) -prune -o -type d -name __pycache__ -exec rm -rf {} +
