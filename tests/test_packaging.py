"""What a package index gets: the wheel built from this checkout (offline), its metadata, the README
as its long description; and every ``>>>`` example in the package's docstrings, run as a test."""

from __future__ import annotations

import ast
import doctest
import email
import email.message
import importlib
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import kinde_guard

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Not copied into the build: caches, virtualenvs, and earlier builds (setuptools puts whatever is
# left in build/lib into the next wheel).
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".nox", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean copy of the checkout to build from."""
    copy = tmp_path_factory.mktemp("source") / "kinde-guard"
    shutil.copytree(ROOT, copy, ignore=NOT_SOURCES)
    return copy


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel pip builds from that copy: no network, no build isolation."""
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    built = subprocess.run([*command, "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("kinde_guard-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(wheel.read(name))


def test_the_wheel_ships_the_license(wheel: zipfile.ZipFile) -> None:
    (license_file,) = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    text = wheel.read(license_file).decode()
    assert text.startswith("MIT License") and "2026 the kinde_guard authors" in text
    assert metadata(wheel)["License-Expression"] == "MIT"
    assert metadata(wheel).get_all("License-File") == ["LICENSE"]


def test_the_wheel_ships_the_package_without_the_checkout_only_demo(source: Path, wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert not [n for n in names if n.startswith("kinde_guard/demo")]
    # Everything else of kinde_guard/ is there, the type marker included; nothing from outside it.
    modules = {p.relative_to(source).as_posix() for p in (source / "kinde_guard").rglob("*.py")}
    assert {m for m in modules if not m.startswith("kinde_guard/demo/")} == {n for n in names if n.endswith(".py")}
    assert "kinde_guard/py.typed" in names
    assert {n.split("/")[0] for n in names} == {"kinde_guard", f"kinde_guard-{kinde_guard.__version__}.dist-info"}


def test_the_version_is_written_once_and_the_wheel_carries_it(wheel: zipfile.ZipFile) -> None:
    assert "version" in PYPROJECT["project"]["dynamic"] and "version" not in PYPROJECT["project"]
    assert metadata(wheel)["Version"] == kinde_guard.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", kinde_guard.__version__)


def test_the_metadata_points_at_the_repository(wheel: zipfile.ZipFile) -> None:
    urls = dict(line.split(", ", 1) for line in metadata(wheel).get_all("Project-URL"))
    assert set(urls) >= {"Homepage", "Repository", "Issues", "Changelog"}
    assert all(url.startswith("https://github.com/kinde-guard/kinde-guard") for url in urls.values())
    assert metadata(wheel)["Description-Content-Type"] == "text/markdown"


def test_the_testing_extra_has_what_the_readme_plugin_example_needs(wheel: zipfile.ZipFile) -> None:
    requires = metadata(wheel).get_all("Requires-Dist")
    for extra in ("testing", "dev"):
        names = {re.split(r"[ <>=;\[]", r)[0] for r in requires if f'extra == "{extra}"' in r}
        assert {"pytest", "httpx2"} <= names, extra  # httpx2: Starlette 1.x's TestClient


def test_make_venv_and_every_nox_session_install_every_extra() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    names = {name: {re.split(r"[ <>=;\[]", r)[0].lower() for r in reqs} for name, reqs in extras.items()}
    assert names["testing"] <= names["dev"]  # so installing dev covers testing
    for installer in ("Makefile", "noxfile.py"):
        (installed,) = set(re.findall(r"""-e["',\s]+\.\[([\w,]+)\]""", (ROOT / installer).read_text()))
        assert set(installed.split(",")) == set(extras) - {"testing"}, installer


def test_the_classifiers_name_exactly_the_pythons_the_matrix_tests() -> None:
    (listed,) = re.findall(r"^PYTHONS = (\[.*\])$", (ROOT / "noxfile.py").read_text(), re.M)
    pythons = ast.literal_eval(listed)
    prefix = "Programming Language :: Python :: "
    classified = [c.removeprefix(prefix) for c in PYPROJECT["project"]["classifiers"] if c.startswith(prefix)]
    assert [c for c in classified if re.fullmatch(r"3\.\d+", c)] == pythons
    assert PYPROJECT["project"]["requires-python"] == f">={pythons[0]}"


def test_the_readme_links_work_on_a_package_index() -> None:
    """The README is the long description: a link relative to the repository breaks on the index."""
    readme = (ROOT / PYPROJECT["project"]["readme"]).read_text()
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)", readme) + re.findall(r"""(?:href|src)=["']([^"']+)""", readme)
    assert targets, "no links found: the pattern above no longer matches the README"
    relative = [t for t in targets if not re.match(r"(https?://|mailto:|#)", t)]
    assert relative == [], "make these absolute (https://github.com/kinde-guard/kinde-guard/blob/main/...)"


# Every module of the package, the checkout-only demo included; `__main__` modules run when imported.
SUBMODULES = pkgutil.walk_packages(kinde_guard.__path__, "kinde_guard.")
MODULES = ["kinde_guard", *sorted(m.name for m in SUBMODULES if not m.name.endswith("__main__"))]
#: Modules that read Django's settings when imported or inspected (DRF, the lazy ``settings``).
NEEDS_DJANGO = ("kinde_guard.django", "kinde_guard.drf")


def load(name: str) -> ModuleType:
    if name.startswith(NEEDS_DJANGO):
        from tests.django_servers import setup_django  # the suite's in-process settings, configured once

        setup_django()
    return importlib.import_module(name)


@pytest.mark.parametrize("name", MODULES)
def test_every_docstring_example_holds(name: str) -> None:
    """The ``>>>`` examples of each module, as ``pytest --doctest-modules kinde_guard`` would run them.

    (Not --doctest-modules in addopts: it would import every module of examples/ and tests/ too, and
    the example apps refuse to start without KINDE_* settings.)"""
    module = load(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_package_has_docstring_examples_to_run() -> None:
    """Guards the test above against finding nothing: the examples are there and it sees them."""
    found = {name: sum(len(t.examples) for t in doctest.DocTestFinder().find(load(name), name)) for name in MODULES}
    assert found["kinde_guard"] >= 2 and found["kinde_guard.config"] >= 2
    assert sum(found.values()) >= 20
