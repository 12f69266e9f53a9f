# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint demo bench fuzz soak venv clean

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
