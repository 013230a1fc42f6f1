# cvm_kit: two commands do all set-up on a fresh machine (see README.md):
#   make demo   install everything into .venv and run the main job on the example study
#   make test   install everything (incl. test tools and browser) and run the tests
# Afterwards `source .venv/bin/activate` puts `cvm`, `jupyter` and `pytest` on the PATH.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CVM := $(VENV)/bin/cvm
STUDY ?= data/examples/pipe_coating
PYTEST_ARGS ?=
REPORT := reports/$(basename $(notdir $(STUDY)))

.PHONY: install demo test test-fast test-browser bench lab dist system-deps clean

# editable install: the package reads notebooks/ and data/examples/ from this checkout
$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# byte-compile the package as a wheel install would (an editable install never does, and with
	# PYTHONDONTWRITEBYTECODE set no run writes the .pyc files either: every command would compile cvm_kit)
	$(PY) -m compileall -q cvm_kit
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests (skipped with a reason if it cannot be installed).
system-deps:
	bash scripts/install-system-deps.sh

# the PDF management pack is printed by Debian's Chromium (system-deps); without it the demo writes HTML only
demo: install system-deps
	$(CVM) validate $(STUDY)
	$(CVM) tables $(STUDY)
	$(CVM) batch $(STUDY) --workers 2
	$(CVM) report $(STUDY) $$(command -v chromium >/dev/null 2>&1 && echo --pdf)
	@echo
	@echo "report:           $$($(PY) -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' $(REPORT)/index.html)"
	@test ! -f $(REPORT)/management_pack.pdf || echo "management pack:  $$($(PY) -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' $(REPORT)/management_pack.pdf)"
	@echo "customer reports: $$($(PY) -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' $(REPORT)/customers/index.html)"
	@echo "commands on the PATH: source $(VENV)/bin/activate   (then: cvm --help)"

# Lint and types first ([tool.ruff], [tool.mypy] in pyproject.toml; mypy against tools/mypy-baseline.txt).
# The browser tests run on their own after the rest: a loaded machine makes JupyterLab flaky.
test: install system-deps
	$(PY) -m ruff check cvm_kit tests tools
	$(PY) tools/mypy_baseline.py
	$(PY) -m pytest --doctest-modules cvm_kit $(PYTEST_ARGS)   # the docstring examples
	$(PY) -m pytest -n 2 -m "not browser" $(PYTEST_ARGS)
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -n 2 -m "not browser and not slow" $(PYTEST_ARGS)

test-browser: install system-deps
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/run.py --batch

# JupyterLab on the notebook series (right click a .py > Open With > Jupytext Notebook)
lab: install
	$(VENV)/bin/jupyter lab notebooks/

# the sdist and the wheel (with the notebooks and the example study inside) -> dist/
dist: install
	$(PY) -m build -o dist .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info
