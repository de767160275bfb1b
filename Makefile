# The two commands of the README. Each sets itself up on a fresh clone.
VENV   := .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: run test

$(BIN)/ivr: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/ivr

## make run: the hotline on the embedded SQLite database (./ivr.db), port 8080.
run: $(BIN)/ivr
	@if [ -z "$$TWILIO_AUTH_TOKEN" ]; then \
	  echo "TWILIO_AUTH_TOKEN is not set: running with IVR_INSECURE_DEV=1 (unsigned webhooks accepted; local use only)"; \
	  IVR_INSECURE_DEV=1 $(BIN)/ivr serve; \
	else $(BIN)/ivr serve; fi

## make test: the whole test suite.
test: $(BIN)/ivr
	$(BIN)/python -m pytest
