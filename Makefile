# The two commands of the README: `make demo` and `make test`. Everything else is what they use.

# Python 3.12, the version Lambda runs (template.yaml Runtime), for the venv and the SAM CLI: the first of
# python3.12 on the path and pyenv's 3.12 that really runs (a pyenv shim without that version does not).
PY312 := $(shell for p in "$$(command -v python3.12)" $(HOME)/.pyenv/versions/3.12*/bin/python3.12; do \
           [ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null \
           && { echo "$$p"; break; }; done)
PYTHON ?= $(PY312)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
NEED_PY312 = @test -n "$(PYTHON)" || { echo "error: Python 3.12 (what Lambda runs) not found: neither python3.12 on the \
path nor ~/.pyenv/versions/3.12*; install it (pyenv install 3.12) or set PYTHON=/path/to/python3.12"; exit 1; }

# The real SAM CLI for `make build-check`, in its own venv (its pins are not the project's).
SAM_CLI  = aws-sam-cli==1.170.0
SAM_VENV = .venv-sam
SAM_STAMP = $(SAM_VENV)/.installed-$(subst ==,-,$(SAM_CLI))
# checkov for `make checkov`, in its own venv too (it pins boto3, pydantic and more to its own versions).
CHECKOV       = checkov==3.3.30
CHECKOV_VENV  = .venv-checkov
CHECKOV_STAMP = $(CHECKOV_VENV)/.installed-$(subst ==,-,$(CHECKOV))

# Debian's Chromium, for the report page test (tests/e2e/test_report_page.py); installed once.
CHROMIUM ?= /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck template-check build-check checkov unit integration e2e browser clean perf soak

$(STAMP): pyproject.toml
	$(NEED_PY312)
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	   echo "$(VENV) is not Python 3.12: making it anew"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dispatch demo

test: $(STAMP) browser lint typecheck template-check checkov build-check
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy shared functions infra

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m infra.sam_check

# `sam build` on a clean copy with an out/ planted in it: no foreign file in any artifact, sizes printed.
build-check: $(STAMP) $(SAM_STAMP)
	$(BIN)/python -m infra.build_check --sam-bin $(SAM_VENV)/bin

$(SAM_STAMP):
	$(NEED_PY312)
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet "$(SAM_CLI)"
	touch $@

# checkov on the template: no failed check; each skip carries its reason in the resource's Metadata.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml

$(CHECKOV_STAMP):
	$(NEED_PY312)
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "$(CHECKOV)"
	touch $@

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
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) out build .aws-sam *.egg-info .pytest_cache .mypy_cache .ruff_cache

# `sam build` builds each function with this target (template.yaml: Metadata BuildMethod: makefile), in the
# repository (samconfig.toml: build_in_source): infra/package.py copies the function's own code and shared/.
build-%Function:
	python3 infra/package.py $*Function "$(ARTIFACTS_DIR)"
