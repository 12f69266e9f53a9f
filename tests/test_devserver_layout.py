"""The layout of the dev authorization server and the test issuer, read from their source (ast):
no import cycle between the devserver's modules, counting imports made only for type checking;
testing never imports devserver; small modules; no citation of documents the repository lacks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kinde_guard"
OWN_FILES = [
    *sorted((PACKAGE / "devserver").glob("*.py")),
    *sorted((PACKAGE / "testing").glob("*.py")),
    PACKAGE / "_issuer_http.py",
    PACKAGE / "pytest_plugin.py",
]


def imports(path: Path, package: str) -> list[tuple[str, list[str]]]:
    """What ``path`` (a module of ``package``) imports, anywhere in the file (top level, functions
    and ``if TYPE_CHECKING:`` blocks alike): ``(module, names)``, absolute; no names for ``import x``."""
    parts = package.split(".")  # the __package__ of the package's modules and of its __init__ alike
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - (node.level - 1)] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((module, [alias.name for alias in node.names]))
    return found


def import_graph(directory: Path, package: str) -> dict[str, set[str]]:
    """Module stem -> the stems of the same package it imports (``__init__`` for names it takes
    from the package itself)."""
    stems = {p.stem for p in directory.glob("*.py")} - {"__init__"}
    graph: dict[str, set[str]] = {}
    for path in sorted(directory.glob("*.py")):
        edges = set()
        for module, names in imports(path, package):
            if module == package:  # `from . import server` (a module) or `from . import load_config`
                edges.update(name if name in stems else "__init__" for name in names or ["__init__"])
            elif module.startswith(package + "."):
                edges.add(module[len(package) + 1 :].split(".")[0])
        edges.discard(path.stem)
        graph[path.stem] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (``[a, b, a]``), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_devserver_modules_import_each_other_in_no_cycle() -> None:
    graph = import_graph(PACKAGE / "devserver", "kinde_guard.devserver")
    assert {"server", "authorize", "token_endpoint", "protocol", "stores"} <= set(graph)
    assert graph["server"] >= {"authorize", "token_endpoint"}  # the graph is read, not empty
    cycle = find_cycle(graph)
    assert cycle is None, "devserver modules import each other in a cycle: " + " -> ".join(cycle or [])


def test_the_endpoints_are_typed_against_the_protocol_not_the_server() -> None:
    graph = import_graph(PACKAGE / "devserver", "kinde_guard.devserver")
    for endpoint in ("authorize", "token_endpoint", "session", "user_profile"):
        assert "protocol" in graph[endpoint] and "server" not in graph[endpoint], endpoint


def test_the_cycle_check_sees_a_cycle_made_of_type_checking_imports(tmp_path: Path) -> None:
    # The shape the devserver had: the server imports its endpoints, which import the server
    # class back for their annotations only.
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "server.py").write_text("from . import endpoint\n")
    (package / "endpoint.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .server import Server\n"
    )
    (package / "leaf.py").write_text("from pkg import endpoint\nfrom . import VERSION\n")
    graph = import_graph(package, "pkg")
    assert graph == {
        "__init__": set(),
        "endpoint": {"server"},
        "leaf": {"endpoint", "__init__"},
        "server": {"endpoint"},
    }
    assert find_cycle(graph) == ["endpoint", "server", "endpoint"]
    (package / "endpoint.py").write_text("x = 1\n")
    assert find_cycle(import_graph(package, "pkg")) is None


def test_the_test_issuer_never_imports_the_devserver_built_on_it() -> None:
    for path in sorted((PACKAGE / "testing").glob("*.py")):
        package = "kinde_guard.testing"
        devserver = [m for m, _ in imports(path, package) if m.startswith("kinde_guard.devserver")]
        assert not devserver, f"{path.name} imports {devserver}"


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 300


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_citation_of_documents_outside_the_repository(path: Path) -> None:
    # Design notes and issue threads are not in the repository; docs/architecture.md is.
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"DESIGN|\bissue\s*#?\d+", text, re.IGNORECASE), path.name
