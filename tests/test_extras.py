"""A framework adapter imported without its extra says what to install, in one sentence."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
    ("adapter", "framework", "extra"),
    [
        ("kinde_guard.fastapi", "fastapi", "fastapi"),
        ("kinde_guard.flask", "flask", "flask"),
        ("kinde_guard.mcp", "mcp", "mcp"),
        ("kinde_guard.litestar", "litestar", "litestar"),
        ("kinde_guard.django", "django", "django"),
        ("kinde_guard.drf", "rest_framework", "drf"),
    ],
)
def test_an_adapter_without_its_extra_names_the_extra(adapter: str, framework: str, extra: str) -> None:
    code = BLOCKER.format(framework=framework, adapter=adapter)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f'ImportError: {adapter} needs the {extra} extra: pip install "kinde-guard[{extra}]" ({framework} is not installed)'
    )


def test_the_core_imports_without_any_framework_extra() -> None:
    code = BLOCKER.format(framework="fastapi", adapter="kinde_guard").replace(
        "import kinde_guard", "import kinde_guard, kinde_guard.wsgi\nimport sys\nassert 'flask' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
