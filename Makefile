# The two commands of the README. Each sets itself up on a fresh clone.
VENV   := .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: run test system-deps mutation

$(BIN)/ivr: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/ivr

## make run: the hotline on the embedded SQLite database (./ivr.db), port 8080; without
## TWILIO_AUTH_TOKEN (local trial) an empty database is first filled by `ivr demo`, and
## the demo's centre is 阳光花园 (COMPANY_NAME, unless set or in .env) so the greeting is the README's.
DEMO_COMPANY := 阳光花园
run: $(BIN)/ivr
	@if [ -z "$$TWILIO_AUTH_TOKEN" ]; then \
	  echo "TWILIO_AUTH_TOKEN is not set: running with IVR_INSECURE_DEV=1 (unsigned webhooks accepted; local use only)"; \
	  grep -qs '^COMPANY_NAME=' .env || export COMPANY_NAME="$${COMPANY_NAME:-$(DEMO_COMPANY)}"; \
	  $(BIN)/ivr demo --if-empty || exit 1; \
	  echo "Try a call in another terminal: $(BIN)/ivr simulate"; \
	  IVR_INSECURE_DEV=1 $(BIN)/ivr serve; \
	else $(BIN)/ivr serve; fi

## make test: system packages (PostgreSQL, Chromium) if missing, the layer contracts and
## lint, then the whole test suite twice, side by side (one per core): on SQLite, and on
## a throwaway PostgreSQL cluster on 127.0.0.1. Each run's output is shown whole after.
test: system-deps $(BIN)/ivr
	@rc=0; logs=$$(mktemp -d); \
	echo "== layers (lint-imports) and lint (ruff)"; \
	$(BIN)/lint-imports --no-cache || rc=1; \
	$(BIN)/ruff check . || rc=1; \
	echo "== test suites on SQLite and on PostgreSQL, side by side"; \
	$(BIN)/python -m pytest -p no:cacheprovider >$$logs/sqlite.log 2>&1 & sqlite=$$!; \
	bash scripts/postgres.sh run $(BIN)/python -m pytest -p no:cacheprovider >$$logs/postgres.log 2>&1 & pg=$$!; \
	wait $$sqlite || rc=1; wait $$pg || rc=1; \
	echo "== test suite on SQLite"; cat $$logs/sqlite.log; \
	echo "== test suite on PostgreSQL"; cat $$logs/postgres.log; \
	rm -rf $$logs; exit $$rc

## Debian packages the tests need (idempotent; installs with apt-get when run as root).
system-deps:
	bash scripts/system-deps.sh

## make mutation: mutation testing (mutmut) of the modules that decide a call, a ticket or
## a record (pyproject.toml [tool.mutmut]; TESTING.md). Slow, so not in CI: one module at a
## time, e.g. `make mutation MUTANTS='ivr.tickets.escalation*'`; MUTATION_CHILDREN workers
## (default 1: the machine is shared). Ends with the per-module score.
MUTANTS ?=
MUTATION_CHILDREN ?= 1
mutation: $(BIN)/ivr
	@$(BIN)/python -c "import mutmut, pytest_timeout" 2>/dev/null || $(BIN)/pip install --quiet -e '.[test,mutation]'
	set -f; $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS); \
	rc=$$?; $(BIN)/mutmut results; $(BIN)/python scripts/mutation_score.py; exit $$rc
