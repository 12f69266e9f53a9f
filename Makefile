# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint demo bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[fastapi,flask,mcp,dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check kinde_guard tests examples benchmarks
	$(VENV)/bin/ruff format --check kinde_guard tests examples benchmarks
	$(VENV)/bin/mypy --strict kinde_guard

# ONCE=1: walk through the API and exit instead of serving until Ctrl-C.
demo: $(STAMP)
	ONCE=$(ONCE) $(PY) -m kinde_guard.demo

test: lint
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
