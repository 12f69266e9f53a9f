"""The layers hold (docs/architecture.md, "Layers"): the core stays framework-free, no module
uses another module's private names, and the public names are exactly the documented ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import kinde_guard

PACKAGE = Path(kinde_guard.__file__).parent
CORE = [
    "config",
    "errors",
    "bearer",
    "claims",
    "requirements",
    "paths",
    "jwk",
    "jwks",
    "jws",
    "policy",
    "guard",
    "responses",
    "resource",
    "_http",
]
FRAMEWORKS = {"starlette", "fastapi", "flask", "werkzeug", "uvicorn"}

DOCUMENTED = {
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
    "Requirements",
    # the InvalidTokenError subclasses and the key set
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


def private_names_defined(path: Path) -> set[str]:
    """The ``_private`` names a module defines: functions, classes, module globals, and attributes
    it assigns on ``self`` / ``cls``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_uses(path: Path, defined_elsewhere: set[str]) -> list[str]:
    """Where ``path`` imports a ``_private`` name from the package, or reaches through an object for
    a ``_private`` attribute that another module defines (``self.`` / ``cls.`` / ``super().`` and a
    module's own names are fine)."""
    own = private_names_defined(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("kinde_guard")):
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
                continue
            if node.attr in defined_elsewhere:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def package_private_uses(root: Path) -> dict[str, list[str]]:
    modules = sorted(root.rglob("*.py"))
    defined = {m: private_names_defined(m) for m in modules}
    uses = {}
    for module in modules:
        elsewhere = set().union(*(names for other, names in defined.items() if other != module))
        if found := private_uses(module, elsewhere):
            uses[str(module.relative_to(root))] = found
    return uses


def test_no_module_uses_another_modules_private_names() -> None:
    assert package_private_uses(PACKAGE) == {}


def test_the_private_name_check_sees_a_private_import_and_a_private_attribute(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "def _helper():\n    pass\n\nclass Guard:\n    def __init__(self):\n        self._cache = {}\n"
    )
    (tmp_path / "b.py").write_text(
        "from .a import _helper, Guard\n\ndef peek(guard: Guard):\n    self = guard\n    return guard._cache, self._cache\n"
    )
    (tmp_path / "c.py").write_text(
        "class Own:\n    def __init__(self):\n        self._x = 1\n\ndef f(o):\n    return o._x\n"
    )
    assert package_private_uses(tmp_path) == {"b.py": ["line 1: imports _helper", "line 5: guard._cache"]}


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


ROOT = PACKAGE.parent
CITED = re.compile(r'docs/architecture\.md,\s*"([^"]+)"')


def citing_files() -> list[Path]:
    return [p for d in ("kinde_guard", "tests", "examples", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))]


def test_code_cites_no_document_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\s*§|DESIGN\.md|\bissue\s*#\d+", re.IGNORECASE)
    this = Path(__file__)
    cited = [f"{p.relative_to(ROOT)}" for p in citing_files() if p != this and outside.search(p.read_text())]
    assert cited == []


def test_every_cited_section_of_the_architecture_document_exists() -> None:
    headings = {
        line.lstrip("#").strip()
        for line in (ROOT / "docs" / "architecture.md").read_text().splitlines()
        if line.startswith("#")
    }
    cited = {(m.group(1), p.name) for p in citing_files() for m in CITED.finditer(p.read_text())}
    assert cited, "nothing cites docs/architecture.md"
    assert {(section, name) for section, name in cited if section not in headings} == set()
