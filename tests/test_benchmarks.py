"""Smoke runs of every benchmark script with tiny sizes: they run, and their tables say what
they must. (The real runs are `make bench`; their figures are in the README.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system_tools import debian_tool

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def run(script: str, *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def wrk() -> str:
    """Debian's wrk, installed when missing (as `make bench` does); the test fails without it."""
    return debian_tool("wrk")


def test_bench_verify_smoke(tmp_path: Path) -> None:
    out = run("bench_verify.py", "--tokens", "30", "--rounds", "2", "--json", str(tmp_path / "v.json"))
    for row in (
        "raw RSA verify",
        "floor: raw verify + decode once",
        "kinde_guard verify (sync",
        "kinde_guard verify_async",
    ):
        assert row in out
    for peer in ("PyJWT", "PyJWKClient", "authlib.jose", "joserfc", "python-jose"):
        assert peer in out
    doc = json.loads((tmp_path / "v.json").read_text())
    assert {r["row"] for r in doc["repeated"]} >= {"raw RSA verify (cryptography)"}


def test_bench_coldstart_smoke() -> None:
    out = run("bench_coldstart.py", "--requests", "40", "--jwks-latency", "0.1")
    assert out.count(" 1 ") >= 3  # one JWKS fetch for each way in (the script exits 1 otherwise)


def test_bench_memory_smoke() -> None:
    out = run("bench_memory.py", "--tokens", "3000", "--workers", "1")
    assert "3,000" in out


@pytest.mark.timeout(300)
def test_bench_http_smoke(wrk: str) -> None:
    out = run("bench_http.py", "--seconds", "1", "--rounds", "1", "--distinct", "300")
    assert "uvicorn + Starlette" in out and "gunicorn + Flask" in out
    assert "guarded, repeated tokens" in out


@pytest.mark.timeout(300)
def test_soak_smoke(wrk: str) -> None:
    out = run("soak.py", "--seconds", "3", "--apps", "fastapi,flask")
    assert "soak: PASS" in out
    assert "kid spraying" in out and "malformed header (400)" in out
