# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-all lint demo bench fuzz soak venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[fastapi,flask,django,drf,mcp,litestar,qr,dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check kinde_guard tests examples benchmarks noxfile.py
	$(VENV)/bin/ruff format --check kinde_guard tests examples benchmarks noxfile.py
	$(VENV)/bin/mypy --strict kinde_guard

# ONCE=1: walk through the API and exit instead of serving until Ctrl-C.
demo: $(STAMP)
	ONCE=$(ONCE) $(PY) -m kinde_guard.demo

test: lint
	$(PY) -m pytest -q

# The matrix: `make test` (lint, and the suite on the .venv's Python, 3.11 here), then the suite on
# every other version of noxfile.py's PYTHONS (3.12 and 3.13) in nox sessions. The interpreters are
# pyenv's when pyenv is there (`pyenv prefix 3.12` finds the installed 3.12.x), else python3.12 and
# python3.13 from PATH; nox fails, never skips, when one is missing, and never downloads one.
PYTHONS = $(shell sed -n 's/^PYTHONS = \[\(.*\)\]$$/\1/p' noxfile.py | tr -d '",')
VENV_PYTHON = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
MATRIX = $(filter-out $(VENV_PYTHON),$(PYTHONS))
PYENV = $(or $(shell command -v pyenv 2>/dev/null),$(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/bin/pyenv))
MATRIX_PATH = $(if $(PYENV),$(shell for v in $(MATRIX); do p=$$($(PYENV) prefix $$v 2>/dev/null) && printf '%s/bin:' "$$p"; done))

test-all: test
	@test -n "$(MATRIX)" || { echo "no version besides $(VENV_PYTHON) in noxfile.py's PYTHONS to test" >&2; exit 1; }
	PATH="$(MATRIX_PATH)$$PATH" $(PY) -m nox --error-on-missing-interpreters --download-python never \
		-s $(foreach v,$(MATRIX),tests-$(v))

# The benchmarks of the README's Performance section (not part of `make test`; a smoke run is).
# wrk comes from Debian's package and is installed when missing.
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(PY) benchmarks/bench_verify.py
	$(PY) benchmarks/bench_http.py
	$(PY) benchmarks/bench_coldstart.py
	$(PY) benchmarks/bench_memory.py

# A longer property-based fuzz run and the load soak of the README's Security section.
fuzz: $(STAMP)
	KINDE_FUZZ_EXAMPLES=$${KINDE_FUZZ_EXAMPLES:-20000} $(PY) -m pytest -q -p no:cacheprovider --timeout 3600 tests/test_properties.py

soak: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(PY) benchmarks/soak.py

clean:
	rm -rf $(VENV) .nox .pytest_cache .mypy_cache .ruff_cache
