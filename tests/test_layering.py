"""The core stays framework-free, and the public names are exactly the documented ones."""

from __future__ import annotations

import ast
from pathlib import Path

import kinde_guard

PACKAGE = Path(kinde_guard.__file__).parent
CORE = ["config", "errors", "bearer", "claims", "jwks", "verify", "guard", "responses", "resource", "_http"]
FRAMEWORKS = {"starlette", "fastapi", "flask", "werkzeug", "uvicorn"}

DOCUMENTED = {
    # DESIGN §5
    "KindeGuard",
    "GuardConfig",
    "Claims",
    "KindeGuardError",
    "ConfigurationError",
    "JWKSError",
    "AuthError",
    "MissingTokenError",
    "InvalidRequestError",
    "InvalidTokenError",
    "InsufficientScopeError",
    # the InvalidTokenError subclasses (issue #2, item 6) and the key set (DESIGN §4)
    "MalformedTokenError",
    "InvalidSignatureError",
    "ExpiredTokenError",
    "InvalidIssuerError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "RemoteKeySet",
    "KeySetState",
    "__version__",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_modules_import_no_web_framework() -> None:
    for name in CORE:
        used = imported_roots(PACKAGE / f"{name}.py") & FRAMEWORKS
        assert not used, f"kinde_guard/{name}.py imports {used}"


def test_the_import_checker_sees_framework_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\nfrom starlette.requests import Request\n")
    assert imported_roots(sample) & FRAMEWORKS == {"starlette"}


def test_all_equals_the_documented_public_names() -> None:
    assert set(kinde_guard.__all__) == DOCUMENTED
    for name in kinde_guard.__all__:
        assert hasattr(kinde_guard, name)


def test_error_tree() -> None:
    k = kinde_guard
    assert issubclass(k.ConfigurationError, k.KindeGuardError)
    assert issubclass(k.JWKSError, k.KindeGuardError)
    for cls in (k.MissingTokenError, k.InvalidRequestError, k.InvalidTokenError, k.InsufficientScopeError):
        assert issubclass(cls, k.AuthError)
    for cls in (k.MalformedTokenError, k.InvalidSignatureError, k.ExpiredTokenError, k.InvalidIssuerError):
        assert issubclass(cls, k.InvalidTokenError)
    assert issubclass(k.InvalidAudienceError, k.InvalidTokenError)
    assert issubclass(k.InvalidClaimError, k.InvalidTokenError)
