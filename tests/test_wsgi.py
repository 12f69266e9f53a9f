"""kinde_guard.wsgi: a plain WSGI app (no framework) behind the middleware, over real HTTP."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask, request

from kinde_guard import GuardConfig, KindeGuard
from kinde_guard.testing import DevIssuer
from kinde_guard.wsgi import CLAIMS_KEY, KindeGuardMiddleware, PublicPaths, claims_from_environ
from tests.example_cases import ALL_SCOPES, AUTH, BARE, EXPIRED, MALFORMED, NO_TOKEN, TWO_TOKENS, WRONG_AUD
from tests.wsgi_servers import run_gunicorn, serve_wsgi

AUDIENCE = "https://api.orders.example"


def whoami(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A WSGI app with no framework: answers the claims the middleware left in the environ."""
    claims = claims_from_environ(environ)
    doc = {"path": environ["PATH_INFO"], "claims": None if claims is None else claims.to_dict()}
    body = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def guarded_whoami_from_env() -> KindeGuardMiddleware:
    """For gunicorn (``tests.test_wsgi:guarded_whoami_from_env()``): configured from KINDE_*."""
    return KindeGuardMiddleware(whoami, guard=KindeGuard(GuardConfig.from_env()))


class ShiftedClock:
    """Real time plus an offset that a test moves forward (the guard's view of "now")."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


@pytest.fixture(autouse=True)
def _healthy_issuer(issuer: DevIssuer) -> Iterator[None]:
    yield
    issuer.jwks_status, issuer.jwks_hang = 200, 0.0


def _get(base_url: str, path: str, authorization: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET over http.client, which sends header values (``Bearer ``) exactly as given."""
    conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=10)
    try:
        conn.request("GET", path, headers={} if authorization is None else {"Authorization": authorization})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


REFUSALS = [
    ("none", 401, "unauthorized", BARE),
    ("basic", 401, "unauthorized", BARE),
    ("malformed", 401, "invalid_token", MALFORMED),
    ("two_tokens", 400, "invalid_request", TWO_TOKENS),
    ("empty_bearer", 400, "invalid_request", NO_TOKEN),
    ("expired", 401, "invalid_token", EXPIRED),
    ("wrong_audience", 401, "invalid_token", WRONG_AUD),
    ("id_token", 401, "invalid_token", WRONG_AUD),
]


@pytest.mark.parametrize(("auth", "status", "error", "challenge"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_the_middleware_refuses_with_the_shared_error_format(
    issuer: DevIssuer, auth: str, status: int, error: str, challenge: str
) -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        return whoami(environ, start_response)

    with serve_wsgi(KindeGuardMiddleware(app, guard=issuer.guard())) as url:
        got_status, headers, body = _get(url, "/me", AUTH[auth](issuer))
    assert got_status == status
    assert headers["www-authenticate"] == challenge
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["error"] == error
    assert calls == []  # the app never saw the request


@pytest.mark.parametrize("auth", ["valid", "lowercase", "m2m"])
def test_a_valid_token_reaches_the_app_with_its_claims(issuer: DevIssuer, auth: str) -> None:
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=issuer.guard())) as url:
        status, headers, body = _get(url, "/me", AUTH[auth](issuer))
    assert status == 200
    assert "www-authenticate" not in headers
    claims = json.loads(body)["claims"]
    assert claims["azp"] == issuer.client_id
    assert claims["is_m2m"] is (auth == "m2m")
    assert "read:orders" in claims["scopes"]


def test_required_scopes_of_the_guard_answer_403_with_the_scope_in_the_challenge(issuer: DevIssuer) -> None:
    guard = issuer.guard(required_scopes=["admin:orders"])
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=guard)) as url:
        status, headers, body = _get(url, "/me", "Bearer " + issuer.mint(scopes=ALL_SCOPES))
    assert status == 403
    assert headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the required scope '
        '(all of: admin:orders; missing: admin:orders).", scope="admin:orders"'
    )
    assert json.loads(body)["error"] == "insufficient_scope"


def test_the_realm_is_configurable(issuer: DevIssuer) -> None:
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=issuer.guard(), realm="orders")) as url:
        _, headers, _ = _get(url, "/me")
    assert headers["www-authenticate"] == 'Bearer realm="orders"'


def test_public_paths_match_exactly_or_by_prefix_ending_in_a_slash(issuer: DevIssuer) -> None:
    app = KindeGuardMiddleware(whoami, guard=issuer.guard(), public_paths=["/healthz", "/static/"])
    with serve_wsgi(app) as url:
        answers = {path: _get(url, path, "Bearer not-a-jwt") for path in ("/healthz", "/static/app.css")}
        guarded = {path: _get(url, path)[0] for path in ("/healthz/x", "/healthzz", "/static", "/static/../me")}
    for path, (status, _, body) in answers.items():
        assert status == 200, path  # even a bad token is ignored on a public path
        assert json.loads(body)["claims"] is None
    assert guarded == {"/healthz/x": 401, "/healthzz": 401, "/static": 401, "/static/../me": 401}


def test_optional_auth_lets_anonymous_requests_through_but_still_refuses_bad_tokens(issuer: DevIssuer) -> None:
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=issuer.guard(), required=False)) as url:
        anonymous = _get(url, "/me")
        other_scheme = _get(url, "/me", AUTH["basic"](issuer))
        bad = _get(url, "/me", AUTH["expired"](issuer))
        good = _get(url, "/me", AUTH["valid"](issuer))
    assert (anonymous[0], json.loads(anonymous[2])["claims"]) == (200, None)
    assert (other_scheme[0], json.loads(other_scheme[2])["claims"]) == (200, None)
    assert (bad[0], bad[1]["www-authenticate"]) == (401, EXPIRED)
    assert good[0] == 200
    assert json.loads(good[2])["claims"]["sub"].startswith("kp_")


def test_odd_header_bytes_are_a_400_not_a_crash(issuer: DevIssuer) -> None:
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=issuer.guard())) as url:
        latin1 = _get(url, "/me", "Bearer \xff\xfe")
        oversized = _get(url, "/me", "Bearer " + "a" * 9000 + ".b.c")
    assert (latin1[0], json.loads(latin1[2])["error"]) == (400, "invalid_request")
    assert (oversized[0], json.loads(oversized[2])["error"]) == (401, "invalid_token")


def test_fifty_concurrent_requests_at_a_cold_start_fetch_the_jwks_once(issuer: DevIssuer) -> None:
    issuer.jwks_hang = 0.5  # the first fetch is still in flight while the other requests arrive
    tokens = [issuer.mint(scopes=["read:orders"]) for _ in range(50)]
    statuses: list[int] = []
    start = threading.Barrier(50)
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=issuer.guard())) as url:
        before = issuer.jwks_fetches

        def call(token: str) -> None:
            start.wait()
            statuses.append(_get(url, "/me", "Bearer " + token)[0])

        threads = [threading.Thread(target=call, args=(t,)) for t in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert statuses == [200] * 50
    assert issuer.jwks_fetches - before == 1


def test_during_a_jwks_outage_cached_keys_keep_serving(issuer: DevIssuer) -> None:
    clock = ShiftedClock()
    guard = issuer.guard(clock=clock)
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=guard)) as url:
        assert _get(url, "/me", "Bearer " + issuer.mint())[0] == 200
        fetches = issuer.jwks_fetches
        issuer.jwks_status = 500
        clock.offset = 601  # the keys are now stale: the next request triggers a refresh, which fails
        assert _get(url, "/me", "Bearer " + issuer.mint())[0] == 200
        deadline = time.monotonic() + 10
        while guard.key_set_state().last_error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _get(url, "/me", "Bearer " + issuer.mint())[0] == 200
    state = guard.key_set_state()
    assert issuer.jwks_fetches - fetches == 1  # one refresh attempt, then the cooldown holds
    assert state.usable and not state.fresh
    assert "500" in (state.last_error or "")


def test_keys_older_than_the_staleness_window_fail_closed_with_503(issuer: DevIssuer) -> None:
    clock = ShiftedClock()
    guard = issuer.guard(clock=clock, jwks_max_stale=3600)
    token = issuer.mint(expires_in=10 * 86400)
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=guard)) as url:
        assert _get(url, "/me", "Bearer " + issuer.mint())[0] == 200
        issuer.jwks_status = 500
        clock.offset = 600 + 3600 + 1
        status, headers, body = _get(url, "/me", "Bearer " + token)
    assert status == 503
    assert int(headers["retry-after"]) >= 1
    assert json.loads(body)["error"] == "temporarily_unavailable"


def test_a_cold_jwks_outage_answers_503_with_retry_after_and_respects_the_cooldown(issuer: DevIssuer) -> None:
    issuer.jwks_status = 500
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=issuer.guard())) as url:
        before = issuer.jwks_fetches
        answers = [_get(url, "/me", "Bearer " + issuer.mint()) for _ in range(3)]
    for status, headers, body in answers:
        assert status == 503
        assert 1 <= int(headers["retry-after"]) <= 31
        assert "www-authenticate" not in headers
        assert json.loads(body) == {
            "error": "temporarily_unavailable",
            "error_description": "The API cannot verify tokens right now; retry later.",
        }
    assert issuer.jwks_fetches - before == 1


def test_a_flask_app_can_sit_behind_the_middleware(issuer: DevIssuer) -> None:
    app = Flask("behind_the_middleware")

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"sub": request.environ[CLAIMS_KEY].sub}

    app.wsgi_app = KindeGuardMiddleware(app.wsgi_app, guard=issuer.guard())  # type: ignore[method-assign]
    client = app.test_client()
    token = issuer.mint(sub="kp_flask")
    assert client.get("/me", headers={"Authorization": "Bearer " + token}).json == {"sub": "kp_flask"}
    refused = client.get("/me")
    assert (refused.status_code, refused.headers["WWW-Authenticate"]) == (401, BARE)


def test_gunicorn_workers_each_fetch_the_keys_once(issuer: DevIssuer) -> None:
    env = {"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE}
    with run_gunicorn("tests.test_wsgi:guarded_whoami_from_env()", env, workers=2, threads=4) as url:
        before = issuer.jwks_fetches
        with httpx.Client() as client:
            statuses = [
                client.get(url + "/me", headers={"Authorization": "Bearer " + issuer.mint()}).status_code
                for _ in range(20)
            ]
    assert statuses == [200] * 20
    assert 1 <= issuer.jwks_fetches - before <= 2  # one key set per process, not one fetch per request


def test_bad_arguments_are_refused_at_construction(issuer: DevIssuer) -> None:
    guard = issuer.guard()
    with pytest.raises(TypeError, match="not a string"):
        KindeGuardMiddleware(whoami, guard=guard, public_paths="/healthz")
    with pytest.raises(ValueError, match="must start with '/'"):
        KindeGuardMiddleware(whoami, guard=guard, public_paths=["healthz"])
    with pytest.raises(TypeError, match="KindeGuard"):
        KindeGuardMiddleware(whoami, guard=object())  # type: ignore[arg-type]


def test_public_paths_never_treat_dot_segments_as_public() -> None:
    public = PublicPaths(["/static/", "/docs"])
    assert public.match("/static/a/b.css") and public.match("/docs")
    assert not public.match("/static/./../admin")
    assert not public.match("/static/..")
    assert not public.match("/docs/")


RESOURCE = "https://api.example.com/mcp"
META = "/.well-known/oauth-protected-resource/mcp"
POINTER = 'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"'


def test_with_a_resource_the_metadata_is_served_and_every_challenge_points_to_it(issuer: DevIssuer) -> None:
    guard = issuer.guard(audience=(), resource=RESOURCE, scopes_supported=["read:orders"])
    with serve_wsgi(KindeGuardMiddleware(whoami, guard=guard)) as url:
        metadata = httpx.get(url + META)
        head = httpx.head(url + META)
        post = httpx.post(url + META)
        refused = _get(url, "/mcp")
        accepted = _get(url, "/mcp", "Bearer " + issuer.mint(aud=[RESOURCE]))
    assert metadata.status_code == 200
    assert metadata.headers["cache-control"] == "public, max-age=3600"
    assert metadata.json() == {
        "resource": RESOURCE,
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["read:orders"],
        "bearer_methods_supported": ["header"],
    }
    assert (head.status_code, head.content) == (200, b"")
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
    assert (refused[0], refused[1]["www-authenticate"]) == (401, f'Bearer realm="api", {POINTER}')
    assert accepted[0] == 200


def test_standalone_metadata_app_for_apps_mounted_under_a_prefix(issuer: DevIssuer) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.test import Client

    from kinde_guard.wsgi import ProtectedResourceMetadata

    guard = issuer.guard(audience=(), resource=RESOURCE)

    def inner(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"inner"]

    def root(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("content-type", "text/plain")])
        return [b"root"]

    app = DispatcherMiddleware(
        root, {"/api": KindeGuardMiddleware(inner, guard=guard), META: ProtectedResourceMetadata(guard)}
    )
    client = Client(app)
    metadata = client.get(META)
    assert metadata.status_code == 200 and metadata.json["resource"] == RESOURCE
    assert client.post(META).status_code == 405
    refused = client.get("/api/x")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].endswith(POINTER)
