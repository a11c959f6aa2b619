# Short recipes; see README.md. Everything installs into ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE := datasets/examples/harbour-bridge.txt

.PHONY: install browser demo test lint check model bench clean

install: browser
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'

# Debian's Chromium drives the browser tests (Playwright's own browser download needs internet).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Chromium: sudo apt-get install chromium (or set PROPLENS_CHROMIUM)"; fi; }

demo: install
	$(BIN)/proplens score $(EXAMPLE)

test:
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

check: lint test

# Retrain the shipped default model (writes models/ptc-default/v<N> and makes it current).
model:
	$(BIN)/proplens train --name ptc-default --notes docs/ablation.md

bench:
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
