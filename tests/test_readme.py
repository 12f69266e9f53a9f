"""Every code block of the README is exercised: Python blocks are verbatim excerpts of files in
examples/snippets/ that these tests run; shell blocks name real commands, flags, targets and extras."""

from __future__ import annotations

import ast
import builtins
import importlib
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from flask.cli import locate_app
from werkzeug.test import Client

from kinde_guard import ConfigurationError
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


def section_blocks(language: str, *titles: str) -> list[str]:
    """The ``language`` blocks of the README's ``## <title>`` sections."""
    sections = re.split(r"^## ", README, flags=re.M)
    chosen = [text for text in sections if text.split("\n", 1)[0].strip() in titles]
    assert len(chosen) == len(titles), titles
    found = [re.findall(r"^```(\w+)\n(.*?)^```", text, re.M | re.S) for text in chosen]
    return [body for blocks_of_section in found for lang, body in blocks_of_section if lang == language]


def unbound_names(source: str) -> set[str]:
    """Names the code reads but neither imports nor defines (scopes flattened: enough for snippets)."""
    bound, read = set(dir(builtins)), set[str]()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read - bound


def test_unbound_names_finds_a_missing_import() -> None:
    assert unbound_names("guard = KindeGuard(GuardConfig.from_env())") == {"KindeGuard", "GuardConfig"}
    assert unbound_names("from kinde_guard import GuardConfig, KindeGuard\nguard = KindeGuard(GuardConfig())") == set()


QUICKSTART_AND_TESTING = section_blocks("python", "Quickstart", "Testing your own API")


@pytest.mark.parametrize("block", QUICKSTART_AND_TESTING, ids=lambda b: b.strip().splitlines()[0][:60])
def test_quickstart_and_testing_blocks_import_every_name_they_use(block: str) -> None:
    assert unbound_names(block) == set(), "copied alone, this README block would raise NameError"


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


def check_fastapi_quickstart(client: TestClient, issuer: DevIssuer) -> None:
    assert client.get("/orders").status_code == 401
    assert client.get("/orders", headers=bearer(issuer.mint(scopes=["read:orders"]))).status_code == 200
    refused = client.get("/orders", headers=bearer(issuer.mint(scopes=[])))
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=["delete:orders"]))).status_code == 204
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=[]))).status_code == 403
    scheme = client.get("/openapi.json").json()["components"]["securitySchemes"]["kinde"]
    assert "read:orders" in scheme["flows"]["authorizationCode"]["scopes"]


def test_fastapi_snippet_builds_its_guard_from_the_environment(
    issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_fastapi_quickstart(TestClient(load("fastapi_quickstart", env, monkeypatch).create_app()), issuer)


def test_fastapi_snippet_takes_a_guard(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KINDE_DOMAIN", "KINDE_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    module = load("fastapi_quickstart", {}, monkeypatch)  # importing it needs no configuration
    with pytest.raises(ConfigurationError, match="KINDE_DOMAIN"):
        module.create_app()
    check_fastapi_quickstart(TestClient(module.create_app(issuer.guard())), issuer)


def test_the_quickstart_factories_load_the_way_their_servers_load_them(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # uvicorn examples.snippets.fastapi_quickstart:create_app --factory (no proxy-headers wrapper, to see the app)
    config = uvicorn.Config("examples.snippets.fastapi_quickstart:create_app", factory=True, proxy_headers=False)
    config.load()
    assert isinstance(config.loaded_app, FastAPI)
    assert isinstance(locate_app("examples.snippets.flask_quickstart", None), Flask)  # flask --app ... run


def test_starlette_snippet(issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(load("starlette_quickstart", env, monkeypatch).app)
    assert client.get("/healthz").status_code == 200
    assert client.get("/orders").status_code == 401
    ok = client.get("/orders", headers=bearer(issuer.mint(scopes=["read:orders"])))
    assert ok.status_code == 200 and "read:orders" in ok.json()["scopes"]
    assert client.get("/orders", headers=bearer(issuer.mint(scopes=[]))).status_code == 403


def check_flask_quickstart(app: Flask, issuer: DevIssuer) -> None:
    client = app.test_client()
    assert client.get("/orders").status_code == 401
    assert client.get("/orders", headers=bearer(issuer.mint(scopes=["read:orders"]))).status_code == 200
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=[]))).status_code == 403
    assert client.delete("/orders/1", headers=bearer(issuer.mint(permissions=["delete:orders"]))).status_code == 204
    assert client.get("/me", headers=bearer(issuer.mint())).json["sub"].startswith("kp_")


def test_flask_snippet_builds_its_guard_from_the_environment(
    issuer: DevIssuer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_flask_quickstart(load("flask_quickstart", env, monkeypatch).create_app(), issuer)


def test_flask_snippet_takes_a_guard(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KINDE_DOMAIN", "KINDE_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    module = load("flask_quickstart", {}, monkeypatch)
    with pytest.raises(ConfigurationError, match="KINDE_DOMAIN"):
        module.create_app()
    check_flask_quickstart(module.create_app(issuer.guard()), issuer)
    # Two apps, two guards: each app keeps its own.
    elsewhere = module.create_app(DevIssuer(audience=AUDIENCE).guard()).test_client()
    assert elsewhere.get("/orders", headers=bearer(issuer.mint(scopes=["read:orders"]))).status_code == 401


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
