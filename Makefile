# The two commands of the README: `make demo` and `make test`. Everything else is what they use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

# Debian's Chromium, for the report page test (tests/e2e/test_report_page.py); installed once.
CHROMIUM ?= /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck template-check unit integration e2e browser clean perf soak

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dispatch demo

test: $(STAMP) browser lint typecheck template-check
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy shared functions infra

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m infra.sam_check

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP) browser
	$(BIN)/pytest tests/e2e

# docs/performance.md, regenerated from one bench run (takes long on the emulator).
perf: $(STAMP)
	$(BIN)/dispatch bench --households 2000 --feed-rows 1000000 --write docs/performance.md

# The model-based test (tests/model) for SOAK_MINUTES instead of its bounded run; prints examples and steps.
SOAK_MINUTES ?= 30
soak: $(STAMP)
	$(BIN)/python -m tests.model.test_rules_model $(SOAK_MINUTES)

browser: $(CHROMIUM)

$(CHROMIUM):
	@echo "Installing Debian's chromium (headless browser for tests/e2e/test_report_page.py) ..."
	@{ $(SUDO) apt-get update -qq && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } && \
	 test -x $(CHROMIUM) || { \
	   echo "error: could not install Debian's chromium at $(CHROMIUM), which the report page test"; \
	   echo "needs. Install it (as root: apt-get install chromium) or set CHROMIUM=/path/to/chromium."; \
	   exit 1; }

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
