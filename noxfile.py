"""The test matrix: the whole pytest suite on every Python kinde_guard supports.

    make test-all                  # `make test` (lint + suite on 3.11), then tests-3.12 and tests-3.13
    .venv/bin/nox -s tests-3.13    # one version; `-- tests/test_guard.py -x` passes arguments to pytest

Lint (ruff, mypy --strict) is not repeated here: it runs once, in `make test`. Each session needs its
interpreter (`python3.12`, ...) on PATH — the Makefile puts pyenv's there — and a missing one is an
error, never a skipped session: a matrix that quietly shrinks tests nothing.
"""

from __future__ import annotations

import nox

#: Every version the package supports; the classifiers in pyproject.toml list the same ones (tested).
PYTHONS = ["3.11", "3.12", "3.13"]

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True
# Never fetch an interpreter from the internet: test with the ones this machine has, or fail.
nox.options.download_python = "never"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The pytest suite (doctests included) with every extra installed, as `make venv` installs it."""
    # Editable like `make venv`: the demo (kinde_guard/demo, not in the wheel) runs from the checkout.
    session.install("-e", ".[fastapi,flask,django,drf,mcp,litestar,qr,dev]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)
