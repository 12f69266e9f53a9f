"""Every code block of the README is exercised: Python blocks are verbatim excerpts of files in
examples/snippets/ that these tests run; shell blocks name real commands, flags, targets and extras."""

from __future__ import annotations

import importlib
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from werkzeug.test import Client

from kinde_guard.cli import build_parser
from kinde_guard.testing import DevIssuer

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SNIPPETS = ROOT / "examples" / "snippets"
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, re.M | re.S)
AUDIENCE = "https://api.acme.com"


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCKS if lang == language]


def normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def test_the_readme_has_code_blocks_of_each_kind() -> None:
    assert len(blocks("python")) >= 6 and len(blocks("sh")) >= 4


@pytest.mark.parametrize("block", blocks("python"), ids=lambda b: b.strip().splitlines()[0][:60])
def test_every_python_block_is_an_excerpt_of_a_tested_snippet(block: str) -> None:
    sources = {p.name: normalize(p.read_text()) for p in SNIPPETS.glob("*.py")}
    assert any(normalize(block) in text for text in sources.values()), "README block not found in examples/snippets/"


def test_every_shell_block_names_real_commands_flags_targets_and_extras() -> None:
    makefile = (ROOT / "Makefile").read_text()
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    parser = build_parser()
    checked = 0
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("#", 1)[0].strip()
            command = re.sub(r"^(export |\w+=\S+ )+", "", command)
            command = re.sub(r"^TOKEN=\$\((.*)\)$", r"\1", command)
            if command.startswith("kinde-guard "):
                argv = [a for a in shlex.split(command)[1:] if a != "-"] or ["--help"]
                parser.parse_args([a.replace("$TOKEN", "x") for a in argv])  # argparse exits on an unknown flag
                checked += 1
            elif command.startswith("make "):
                target = command.split()[1]
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target
                checked += 1
            elif command.startswith("pip install"):
                for spec in re.findall(r"\[([\w,]+)\]", command):
                    assert set(spec.split(",")) <= extras, spec
                checked += 1
    assert checked >= 8


def load(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sys.modules.pop(f"examples.snippets.{name}", None)
    return importlib.import_module(f"examples.snippets.{name}")


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


@pytest.fixture
def env(issuer: DevIssuer) -> dict[str, str]:
    return {"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_core_snippet(issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    core = load("core", env, monkeypatch)
    status, body = core.orders_for("Bearer " + issuer.mint(scopes=["read:orders"]))
    assert status == 200 and body["scopes"] == ["read:orders"]
    status, body = core.orders_for(None)
    assert status == 401 and body["headers"]["www-authenticate"] == 'Bearer realm="api"'
    status, body = core.orders_for("Bearer " + issuer.mint(scopes=[]))
    assert status == 403 and 'scope="read:orders"' in body["headers"]["www-authenticate"]


def test_fastapi_snippet(issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(load("fastapi_quickstart", env, monkeypatch).app)
    assert client.get("/orders").status_code == 401
    assert client.get("/orders", headers=bearer(issuer.mint(scopes=["read:orders"]))).status_code == 200
    refused = client.get("/orders", headers=bearer(issuer.mint(scopes=[])))
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=["delete:orders"]))).status_code == 204
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=[]))).status_code == 403
    scheme = client.get("/openapi.json").json()["components"]["securitySchemes"]["kinde"]
    assert "read:orders" in scheme["flows"]["authorizationCode"]["scopes"]


def test_starlette_snippet(issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(load("starlette_quickstart", env, monkeypatch).app)
    assert client.get("/healthz").status_code == 200
    assert client.get("/orders").status_code == 401
    ok = client.get("/orders", headers=bearer(issuer.mint(scopes=["read:orders"])))
    assert ok.status_code == 200 and "read:orders" in ok.json()["scopes"]
    assert client.get("/orders", headers=bearer(issuer.mint(scopes=[]))).status_code == 403


def test_flask_snippet(issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    app = load("flask_quickstart", env, monkeypatch).create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=AUDIENCE)
    client = app.test_client()
    assert client.get("/orders").status_code == 401
    assert client.get("/orders", headers=bearer(issuer.mint(scopes=["read:orders"]))).status_code == 200
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=[]))).status_code == 403
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=["delete:orders"]))).status_code == 204
    assert client.get("/me", headers=bearer(issuer.mint())).json["sub"].startswith("kp_")


def test_wsgi_snippet(issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(load("wsgi_quickstart", env, monkeypatch).application)
    assert client.get("/orders").status_code == 401
    ok = client.get("/orders", headers=bearer(issuer.mint()))
    assert ok.status_code == 200 and ok.json["for"].startswith("kp_")
    assert client.get("/healthz").status_code == 200


def test_testing_snippet(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    load("testing_devissuer", env, monkeypatch).tour()


def test_operations_snippet(issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    operations = load("operations", env, monkeypatch)
    operations.guard.verify(issuer.mint())
    with pytest.raises(Exception, match="aud"):
        operations.guard.verify(issuer.mint(aud=["x"]))
    assert operations.events == {"jwks_fetch": 1, "token_verified": 1, "token_refused": 1}
