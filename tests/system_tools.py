"""Programs from Debian's packages that some tests need (a browser, a load generator): installed
with apt-get when missing, as the project's own files must; a test that cannot have one fails."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def debian_tool(command: str, package: str | None = None, timeout: float = 900) -> str:
    """The path of ``command``, installing Debian's ``package`` (default: the command's name)."""
    found = shutil.which(command)
    if found is None:
        install = f"apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q {package or command}"
        result = subprocess.run(["sh", "-c", install], capture_output=True, text=True, timeout=timeout)
        found = shutil.which(command)
        if found is None:
            pytest.fail(f"{command} is not installed and apt-get could not install it: {result.stderr[-500:]}")
    return found
