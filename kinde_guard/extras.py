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
>>> missing_extra(ModuleNotFoundError("No module named 'rest_framework'", name="rest_framework"),
...               adapter="kinde_guard.drf", extra="drf", packages={"rest_framework": "djangorestframework"})
ImportError('kinde_guard.drf needs the drf extra: pip install "kinde-guard[drf]" (djangorestframework is not installed: no module named rest_framework)')
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["missing_extra"]


def missing_extra(
    exc: ModuleNotFoundError, *, adapter: str, extra: str, packages: Mapping[str, str] | None = None
) -> ImportError:
    """The ImportError to raise when ``adapter``'s framework import failed with ``exc``.

    ``packages`` maps an importable name to its pip package where the two differ
    (``{"rest_framework": "djangorestframework"}``), so the sentence names what to install.
    """
    missing = exc.name or "a dependency"
    package = (packages or {}).get(missing.partition(".")[0])
    what = f"{package} is not installed: no module named {missing}" if package else f"{missing} is not installed"
    error = ImportError(f'{adapter} needs the {extra} extra: pip install "kinde-guard[{extra}]" ({what})')
    error.name = exc.name
    return error
