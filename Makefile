# Two commands matter: `make run` and `make test`. Both set up first when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

export HF_HUB_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test lint typecheck pytest bench bench-quick train-reader system-deps clean

setup: $(STAMP) system-deps

# Re-runs only when the dependency list changes: idempotent.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Debian packages the browser tests need (Chromium for Playwright); installed only when missing.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

run: setup
	$(PY) app.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy qa ingest app.py

pytest: setup
	$(VENV)/bin/pytest

test: lint typecheck pytest

bench-quick: setup
	$(PY) -m qa bench --quick

bench: setup
	$(PY) -m qa bench

# Rebuild the reader's committed weights (qa/answer/weights) from data/reader; not part of setup.
train-reader: setup
	$(PY) -m qa train-reader

clean:
	rm -rf $(VENV) index .pytest_cache .mypy_cache .ruff_cache
