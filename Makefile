# cvm_kit: two commands do all set-up on a fresh machine (see README.md):
#   make demo   install everything into .venv and run the main job on the example study
#   make test   install everything (incl. test tools and browser) and run the tests
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CVM := $(VENV)/bin/cvm
STUDY ?= data/examples/pipe_coating
PYTEST_ARGS ?=

.PHONY: install demo test test-fast test-browser bench system-deps clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests (skipped with a reason if it cannot be installed).
system-deps:
	bash scripts/install-system-deps.sh

demo: install
	$(CVM) validate $(STUDY)
	$(CVM) tables $(STUDY)
	$(CVM) batch $(STUDY) --workers 2
	$(CVM) report $(STUDY)
	@echo "open reports/$(notdir $(STUDY))/index.html"

# The browser tests run on their own after the rest: a loaded machine makes JupyterLab flaky.
test: install system-deps
	$(PY) -m pytest -n 2 -m "not browser" $(PYTEST_ARGS)
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -n 2 -m "not browser and not slow" $(PYTEST_ARGS)

test-browser: install system-deps
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/run.py --batch

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
