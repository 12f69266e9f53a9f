"""Fault injection over real HTTP, for both example apps: the JWKS endpoint fails in every way we
know, keys rotate, a client sprays random kids. For each: users whose key is cached keep getting
200, users of an unknown key get 503 (not 401, not 500), JWKS fetches stay bounded by the
cooldown, nothing blocks, nothing grows, and no token reaches a log record."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from kinde_guard.testing import DevIssuer
from tests.servers import import_app, serve_asgi
from tests.wsgi_servers import serve_wsgi

AUDIENCE = "https://api.example.com"
COOLDOWN = 1.0
TIMEOUT = 0.5
WINDOW = 2.5

#: Short TTL and cooldown so a test sees several refresh attempts; no token cache, so every
#: request really goes through the key set.
ENV = {
    "KINDE_AUDIENCE": AUDIENCE,
    "KINDE_JWKS_TTL": "1",
    "KINDE_JWKS_MIN_TTL": "1",
    "KINDE_JWKS_MAX_TTL": "1",
    "KINDE_JWKS_COOLDOWN": str(COOLDOWN),
    "KINDE_HTTP_TIMEOUT": str(TIMEOUT),
    "KINDE_JWKS_MAX_BYTES": "65536",
    "KINDE_TOKEN_CACHE_SIZE": "0",
}
MODULES = {"fastapi": "examples.fastapi_app.app", "flask": "examples.flask_app.app"}


def load_app(kind: str, env: dict[str, str]) -> Any:
    return import_app(MODULES[kind], env)


def serve(kind: str, app: Any) -> AbstractContextManager[str]:
    return serve_asgi(app) if kind == "fastapi" else serve_wsgi(app)


@pytest.fixture(params=["fastapi", "flask"])
def example(request: pytest.FixtureRequest, rsa_keys: list[rsa.RSAPrivateKey]) -> Iterator[tuple[DevIssuer, str]]:
    with DevIssuer(audience=AUDIENCE, key=rsa_keys[0]).serve() as issuer:
        app = load_app(request.param, {**ENV, "KINDE_DOMAIN": issuer.url})
        with serve(request.param, app) as url:
            yield issuer, url


def get(url: str, token: str | None = None, path: str = "/me") -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    status = httpx.get(url + path, headers=headers, timeout=10).status_code
    return status, time.perf_counter() - started


def non_rsa_jwks() -> bytes:
    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    return json.dumps({"keys": [jwk | {"kid": "ec-1", "use": "sig", "alg": "ES256"}]}).encode()


FAULTS: dict[str, Callable[[DevIssuer], None]] = {
    "status 500": lambda i: setattr(i, "jwks_status", 500),
    "hang": lambda i: setattr(i, "jwks_hang", 5.0),
    "garbage body": lambda i: setattr(i, "jwks_body", b"<html>502 Bad Gateway</html>"),
    "empty key set": lambda i: setattr(i, "jwks_body", b'{"keys": []}'),
    "only non-RSA keys": lambda i: setattr(i, "jwks_body", non_rsa_jwks()),
    "huge body": lambda i: setattr(i, "jwks_body", b'{"keys": [' + b" " * 200_000 + b"]}"),
    "redirect to another host": lambda i: (
        setattr(i, "jwks_status", 302),
        setattr(i, "jwks_headers", {"Location": "http://localhost:9/.well-known/jwks"}),
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_jwks_faults(
    example: tuple[DevIssuer, str], fault: str, rsa_keys: list[rsa.RSAPrivateKey], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kinde_guard")
    issuer, url = example
    assert get(url, issuer.mint())[0] == 200
    fetches_before = issuer.jwks_fetches
    FAULTS[fault](issuer)
    time.sleep(1.1)  # the keys are stale now: every request may trigger a refresh attempt
    tokens: list[str] = []
    legit: list[tuple[int, float]] = []
    new_key: list[tuple[int, float]] = []
    public: list[tuple[int, float]] = []
    deadline = time.monotonic() + WINDOW
    while time.monotonic() < deadline:
        tokens += [issuer.mint(), issuer.mint(key=rsa_keys[1], headers={"kid": "new-" + secrets.token_hex(4)})]
        legit.append(get(url, tokens[-2]))
        new_key.append(get(url, tokens[-1]))
        public.append(get(url, path="/public"))
        time.sleep(0.05)
    assert {s for s, _ in legit} == {200}, "users with cached keys must keep getting 200"
    assert {s for s, _ in new_key} == {503}, "an unknown kid while the JWKS fails is 503"
    assert {s for s, _ in public} == {200}
    fetches = issuer.jwks_fetches - fetches_before
    assert 1 <= fetches <= (WINDOW + 1.1) / COOLDOWN + 2
    assert max(t for _, t in legit + public) < 0.5, "cached keys answer at once, whatever the JWKS does"
    assert max(t for _, t in new_key) < TIMEOUT + 1.0
    assert any("JWKS fetch failed" in r.getMessage() for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(t.split(".")[2] in logged or t.split(".")[1] in logged for t in tokens)


def test_key_rotation(example: tuple[DevIssuer, str], rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    issuer, url = example
    old = issuer.mint()
    assert get(url, old)[0] == 200
    issuer.rotate(key=rsa_keys[1])  # the old key leaves the JWKS
    new = issuer.mint()
    time.sleep(COOLDOWN + 0.1)
    assert get(url, new)[0] == 200  # unknown kid: refetched, found
    assert get(url, old)[0] == 401  # its key is gone from the JWKS now


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_kid_spraying_is_bounded(example: tuple[DevIssuer, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kinde_guard")
    issuer, url = example
    assert get(url, issuer.mint())[0] == 200
    sprayed = [issuer.mint(headers={"kid": secrets.token_hex(8)}) for _ in range(300)]
    before_fetches, before_rss = issuer.jwks_fetches, rss_mib()
    started = time.monotonic()
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(max_workers=16) as pool:

        def spray(i: int) -> int:
            token = sprayed[i % len(sprayed)]
            return client.get(url + "/me", headers={"Authorization": f"Bearer {token}"}).status_code

        statuses = list(pool.map(spray, range(3000)))
    elapsed = time.monotonic() - started
    assert set(statuses) == {401}
    assert issuer.jwks_fetches - before_fetches <= elapsed / COOLDOWN + 2
    assert rss_mib() - before_rss < 30
    assert get(url, issuer.mint())[0] == 200  # legitimate users are unaffected
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(t.split(".")[2] in logged for t in sprayed)
