"""A framework adapter imported without its extra says what to install, in one sentence."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kinde_guard.extras import missing_extra

# Runs in a fresh interpreter: a meta-path finder makes the framework look uninstalled.
BLOCKER = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == {framework!r} or name.startswith({framework!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocked())
import {adapter}
"""


@pytest.mark.parametrize(
    ("adapter", "framework", "extra", "missing"),
    [
        ("kinde_guard.fastapi", "fastapi", "fastapi", "fastapi is not installed"),
        ("kinde_guard.flask", "flask", "flask", "flask is not installed"),
        ("kinde_guard.mcp", "mcp", "mcp", "mcp is not installed"),
        ("kinde_guard.litestar", "litestar", "litestar", "litestar is not installed"),
        ("kinde_guard.django", "django", "django", "django is not installed"),
        # the pip package is not the module's name: the sentence names the one to install
        (
            "kinde_guard.drf",
            "rest_framework",
            "drf",
            "djangorestframework is not installed: no module named rest_framework",
        ),
    ],
)
def test_an_adapter_without_its_extra_names_the_extra(adapter: str, framework: str, extra: str, missing: str) -> None:
    code = BLOCKER.format(framework=framework, adapter=adapter)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == f'ImportError: {adapter} needs the {extra} extra: pip install "kinde-guard[{extra}]" ({missing})'


def test_the_core_imports_without_any_framework_extra() -> None:
    code = BLOCKER.format(framework="fastapi", adapter="kinde_guard").replace(
        "import kinde_guard", "import kinde_guard, kinde_guard.wsgi\nimport sys\nassert 'flask' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_missing_extra_names_the_pip_package_of_a_submodule_too() -> None:
    exc = ModuleNotFoundError("No module named 'rest_framework.permissions'", name="rest_framework.permissions")
    error = missing_extra(
        exc, adapter="kinde_guard.drf", extra="drf", packages={"rest_framework": "djangorestframework"}
    )
    assert str(error).endswith("(djangorestframework is not installed: no module named rest_framework.permissions)")
    assert error.name == "rest_framework.permissions"
    other = missing_extra(ModuleNotFoundError("x", name="django"), adapter="kinde_guard.drf", extra="drf", packages={})
    assert str(other).endswith("(django is not installed)")
