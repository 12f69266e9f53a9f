"""One sentence for a framework adapter imported without its extra.

Every framework adapter (``kinde_guard.fastapi``, ``.flask``, ``.django``, ``.drf``, ``.litestar``,
``.mcp``) imports its framework like this, so a user without the extra reads what to install
instead of a bare ``No module named 'fastapi'``::

    try:
        from fastapi import FastAPI
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, adapter="kinde_guard.fastapi", extra="fastapi") from None

>>> missing_extra(ModuleNotFoundError("No module named 'flask'", name="flask"), adapter="kinde_guard.flask", extra="flask")
ImportError('kinde_guard.flask needs the flask extra: pip install "kinde-guard[flask]" (flask is not installed)')
"""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(exc: ModuleNotFoundError, *, adapter: str, extra: str) -> ImportError:
    """The ImportError to raise when ``adapter``'s framework import failed with ``exc``."""
    missing = exc.name or "a dependency"
    error = ImportError(
        f'{adapter} needs the {extra} extra: pip install "kinde-guard[{extra}]" ({missing} is not installed)'
    )
    error.name = exc.name
    return error
