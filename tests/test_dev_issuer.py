"""The Kinde-shaped dev authorization server (``kinde-guard dev-issuer``) over real HTTP on 127.0.0.1:
sign-in, codes, PKCE, tokens, config, keys, the command and its banner."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard import KindeGuard
from kinde_guard.cli.pkce import make_verifier, s256_challenge
from kinde_guard.devserver import (
    DEFAULT_M2M_CLIENT_ID,
    DEFAULT_M2M_SECRET,
    DevAuthorizationServer,
    load_config,
    load_or_create_key,
    run,
)
from kinde_guard.devserver.config import parse_config
from kinde_guard.devserver.records import Grant
from kinde_guard.errors import ConfigurationError
from kinde_guard.testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID, FrozenClock, kid_for

CALLBACK = "http://127.0.0.1:53180/callback"
DEMO = "kp_de700000000000000000000000000001"


@pytest.fixture
def dev(rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> Iterator[DevAuthorizationServer]:
    doc = {
        "apis": [
            {"audience": DEFAULT_AUDIENCE, "scopes": ["read:orders", "write:orders"]},
            {"audience": "https://billing.example.com", "scopes": ["read:invoices"]},
        ],
        "clients": [
            {
                "client_id": DEFAULT_CLIENT_ID,
                "redirect_uris": [CALLBACK],
                "logout_uris": ["http://127.0.0.1:53180/"],
                "apis": [DEFAULT_AUDIENCE, "https://billing.example.com"],
            },
            {"client_id": "backend", "type": "confidential", "client_secret": "s3cret", "redirect_uris": [CALLBACK]},
            {
                "client_id": DEFAULT_M2M_CLIENT_ID,
                "type": "m2m",
                "client_secret": DEFAULT_M2M_SECRET,
                "apis": [DEFAULT_AUDIENCE],
                "scopes": ["read:orders", "write:orders"],
                "org_code": "org_dev",
            },
        ],
    }
    with DevAuthorizationServer(parse_config(doc), key=rsa_keys[0], clock=clock).serve() as issuer:
        yield issuer


def request(
    issuer: DevAuthorizationServer,
    method: str,
    target: str,
    body: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request, redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(issuer.url).port, timeout=10)
    try:
        data = urlencode(body) if body is not None else None
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})} if data else dict(headers or {})
        conn.request(method, target, data, hdrs)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def auth_params(**overrides: str) -> dict[str, str]:
    verifier = overrides.pop("verifier", "v" * 43)
    params = {
        "response_type": "code",
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid email offline read:orders",
        "state": "state-123456",
        "nonce": "nonce-abc",
        "code_challenge": s256_challenge(verifier),
        "code_challenge_method": "S256",
        "audience": DEFAULT_AUDIENCE,
        "prompt": "login",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != "-"}


def sign_in(
    issuer: DevAuthorizationServer, params: dict[str, str], choice: dict[str, str] | None = None, cookie: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """Open the sign-in page and submit it; the callback's query and the response headers."""
    status, headers, body = request(issuer, "GET", "/oauth2/auth?" + urlencode(params), headers={"Cookie": cookie})
    if status == 200:
        request_id = re.search(rb'name="request_id" value="([^"]+)"', body)
        assert request_id is not None
        form = {"request_id": request_id.group(1).decode(), **(choice or {"user_id": DEMO})}
        status, headers, body = request(issuer, "POST", "/oauth2/auth", form)
    assert status == 302, body
    location = headers["location"]
    assert location.startswith(params["redirect_uri"] + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}, headers


def redeem(
    issuer: DevAuthorizationServer, code: str, verifier: str = "v" * 43, **extra: str
) -> tuple[int, dict[str, Any]]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": DEFAULT_CLIENT_ID}
    form.update(code_verifier=verifier, **extra)
    status, _, body = request(issuer, "POST", "/oauth2/token", {k: v for k, v in form.items() if v != "-"})
    return status, json.loads(body)


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_discovery_and_jwks_are_kinde_shaped(dev: DevAuthorizationServer) -> None:
    status, _, body = request(dev, "GET", "/.well-known/openid-configuration")
    doc = json.loads(body)
    assert status == 200 and doc["issuer"] == dev.url and doc["jwks_uri"] == dev.url + "/.well-known/jwks"
    assert doc["authorization_endpoint"] == dev.url + "/oauth2/auth"
    for path in ("/.well-known/jwks", "/.well-known/jwks.json"):
        keys = json.loads(request(dev, "GET", path)[2])["keys"]
        assert [k["kid"] for k in keys] == [dev.kid] and keys[0]["alg"] == "RS256"


def test_sign_in_page_lists_demo_users_and_an_email_field(dev: DevAuthorizationServer) -> None:
    status, headers, body = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(login_hint="x@y.z")))
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    assert "demo@example.com" in page and 'type="email"' in page and 'value="x@y.z"' in page
    assert "development and tests" in page


def test_code_flow_issues_kinde_shaped_access_id_and_refresh_tokens(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params())
    assert callback["state"] == "state-123456"
    status, body = redeem(dev, callback["code"])
    assert status == 200, body
    assert set(body) == {"access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 86400
    access = claims_of(body["access_token"])
    assert set(access) == {
        *("aud", "azp", "exp", "iat", "iss", "jti", "scp", "sub"),
        *("org_code", "permissions", "roles", "feature_flags"),
    }
    assert access["aud"] == [DEFAULT_AUDIENCE] and access["azp"] == DEFAULT_CLIENT_ID and access["sub"] == DEMO
    assert access["scp"] == ["openid", "email", "offline", "read:orders"] and access["iss"] == dev.url
    assert access["org_code"] == "org_dev" and access["permissions"] == ["delete:orders"]
    assert access["roles"][0]["key"] == "admin"
    assert access["feature_flags"] == {"beta": {"t": "b", "v": True}}  # the demo user's flag in org_dev
    assert jwt.get_unverified_header(body["access_token"]) == {"alg": "RS256", "kid": dev.kid, "typ": "JWT"}
    id_claims = claims_of(body["id_token"])
    assert id_claims["aud"] == [DEFAULT_CLIENT_ID, dev.url] and id_claims["nonce"] == "nonce-abc"
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    dev.guard().verify(body["access_token"], scopes=["read:orders"], permissions=["delete:orders"])


def test_no_offline_means_no_refresh_token_and_no_openid_no_id_token(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params(scope="email read:orders"))
    body = redeem(dev, callback["code"])[1]
    assert "refresh_token" not in body and "id_token" not in body


def test_no_audience_gives_an_empty_aud_array(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params(audience="-"))
    access = claims_of(redeem(dev, callback["code"])[1]["access_token"])
    assert access["aud"] == [] and access["scp"] == ["openid", "email", "offline"]  # API scope not granted


def test_several_audiences_in_one_space_separated_value(dev: DevAuthorizationServer) -> None:
    params = auth_params(audience=f"{DEFAULT_AUDIENCE} https://billing.example.com", scope="openid read:invoices")
    callback, _ = sign_in(dev, params)
    access = claims_of(redeem(dev, callback["code"])[1]["access_token"])
    assert access["aud"] == [DEFAULT_AUDIENCE, "https://billing.example.com"] and "read:invoices" in access["scp"]


def test_an_unregistered_callback_url_is_refused_on_a_page_naming_it(dev: DevAuthorizationServer) -> None:
    wrong = "http://127.0.0.1:53999/callback"
    status, headers, body = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(redirect_uri=wrong)))
    assert status == 400 and "location" not in headers
    assert wrong in body.decode() and "redirect_uris" in body.decode()
    # Exact match: another port or a trailing slash is another URL.
    status, _, _ = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(redirect_uri=CALLBACK + "/")))
    assert status == 400


def test_an_unknown_client_is_refused_on_a_page(dev: DevAuthorizationServer) -> None:
    status, headers, body = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(client_id="nope")))
    assert status == 400 and "location" not in headers and b"Unknown application" in body


@pytest.mark.parametrize(("state", "status"), [("1234567", 400), ("", 400), ("12345678", 200)])
def test_state_shorter_than_8_characters_is_refused(dev: DevAuthorizationServer, state: str, status: int) -> None:
    got, headers, body = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(state=state or "-")))
    assert got == status
    if status == 400:
        assert b"at least 8 characters" in body and "location" not in headers


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": "-", "code_challenge_method": "-"}, "code_challenge is required"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"response_type": "token"}, "response_type"),
        ({"audience": "https://unknown.example.com"}, "not an API"),
        ({"org_code": "org_nope"}, "org_nope"),
    ],
)
def test_bad_requests_go_back_to_the_callback_as_errors(
    dev: DevAuthorizationServer, overrides: dict[str, str], error: str
) -> None:
    status, headers, _ = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(**overrides)))
    assert status == 302
    query = parse_qs(urlsplit(headers["location"]).query)
    assert query["state"] == ["state-123456"] and error in query["error_description"][0]


def test_a_wrong_verifier_is_refused_and_burns_the_code(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params())
    status, body = redeem(dev, callback["code"], verifier=make_verifier())
    assert status == 400 and body["error"] == "invalid_grant" and "code_verifier" in body["error_description"]
    assert redeem(dev, callback["code"])[1]["error"] == "invalid_grant"


def test_a_missing_verifier_is_refused(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params())
    status, body = redeem(dev, callback["code"], verifier="-")
    assert status == 400 and "code_verifier is required" in body["error_description"]


def test_a_code_works_once(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params())
    assert redeem(dev, callback["code"])[0] == 200
    status, body = redeem(dev, callback["code"])
    assert status == 400 and body["error"] == "invalid_grant" and "already used" in body["error_description"]


def test_codes_expire(dev: DevAuthorizationServer, clock: FrozenClock) -> None:
    callback, _ = sign_in(dev, auth_params())
    clock.advance(dev.config.code_lifetime + 1)
    assert redeem(dev, callback["code"])[1]["error"] == "invalid_grant"


def test_codes_are_kept_in_a_bounded_store(rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> None:
    class Small(DevAuthorizationServer):
        MAX_RECORDS = 3

    stores = Small(key=rsa_keys[0], clock=clock).stores
    user = load_config().users[0]
    grant = Grant(DEFAULT_CLIENT_ID, user, ("openid",), (DEFAULT_AUDIENCE,), None, None, int(clock()))
    codes = [stores.new_code(grant, CALLBACK, None) for _ in range(5)]
    # The oldest two were dropped to keep three; the newest three are still good, once each.
    assert [stores.take_code(code) is not None for code in codes] == [False, False, True, True, True]
    late = stores.new_code(grant, CALLBACK, None)
    clock.advance(load_config().code_lifetime + 1)
    assert stores.take_code(late) is None


def test_the_redirect_uri_must_match_at_the_token_endpoint(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params())
    status, body = redeem(dev, callback["code"], redirect_uri="http://127.0.0.1:1/other")
    assert status == 400 and "redirect_uri" in body["error_description"]


def test_prompt_login_asks_again_while_no_prompt_reuses_the_session(dev: DevAuthorizationServer) -> None:
    _, headers = sign_in(dev, auth_params())
    cookie = headers["set-cookie"].split(";")[0]
    status, _, _ = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params()), headers={"Cookie": cookie})
    assert status == 200  # prompt=login: the sign-in page again
    status, headers, _ = request(
        dev, "GET", "/oauth2/auth?" + urlencode(auth_params(prompt="-")), headers={"Cookie": cookie}
    )
    assert status == 302 and "code=" in headers["location"]  # single sign-on
    status, headers, _ = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(prompt="none")))
    assert status == 302 and "error=login_required" in headers["location"]
    # Logout ends the session.
    request(dev, "GET", "/logout", headers={"Cookie": cookie})
    status, _, _ = request(dev, "GET", "/oauth2/auth?" + urlencode(auth_params(prompt="-")), headers={"Cookie": cookie})
    assert status == 200


def test_cancel_sends_access_denied(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params(), {"cancel": "1"})
    assert callback["error"] == "access_denied" and callback["state"] == "state-123456"


def test_typing_an_email_signs_in_a_user_without_organization(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params(), {"email": "Ann@Example.com"})
    access = claims_of(redeem(dev, callback["code"])[1]["access_token"])
    assert re.fullmatch(r"kp_[0-9a-f]{32}", access["sub"]) and "permissions" not in access and "org_code" not in access
    callback, _ = sign_in(dev, auth_params(), {"email": "ann@example.com"})
    assert claims_of(redeem(dev, callback["code"])[1]["access_token"])["sub"] == access["sub"]


def test_refresh_tokens_rotate(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params())
    first = redeem(dev, callback["code"])[1]
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": DEFAULT_CLIENT_ID}
    status, _, body = request(dev, "POST", "/oauth2/token", form)
    second = json.loads(body)
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["access_token"])["aud"] == [DEFAULT_AUDIENCE]
    status, _, body = request(dev, "POST", "/oauth2/token", form)
    assert status == 400 and json.loads(body)["error"] == "invalid_grant"


def test_a_confidential_client_needs_its_secret(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(
        dev, auth_params(client_id="backend", audience="-", code_challenge="-", code_challenge_method="-")
    )
    status, body = redeem(dev, callback["code"], client_id="backend", client_secret="wrong", verifier="-")
    assert status == 401 and body["error"] == "invalid_client"


def test_client_credentials_give_a_kinde_shaped_m2m_token(dev: DevAuthorizationServer) -> None:
    basic = base64.b64encode(f"{DEFAULT_M2M_CLIENT_ID}:{DEFAULT_M2M_SECRET}".encode()).decode()
    form = {"grant_type": "client_credentials", "audience": DEFAULT_AUDIENCE, "scope": "read:orders"}
    status, _, body = request(dev, "POST", "/oauth2/token", form, {"Authorization": "Basic " + basic})
    doc = json.loads(body)
    assert status == 200 and doc["scope"] == "read:orders" and doc["token_type"] == "bearer"
    claims = claims_of(doc["access_token"])
    assert set(claims) == {"aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v", "org_code"}
    assert claims["gty"] == ["client_credentials"] and claims["scp"] == ["read:orders"] and claims["v"] == "2"
    assert dev.guard().verify(doc["access_token"], scopes=["read:orders"]).is_m2m


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": DEFAULT_M2M_CLIENT_ID, "client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": DEFAULT_M2M_CLIENT_ID}, 401, "invalid_client"),
        ({"client_id": "nope", "client_secret": "x"}, 401, "invalid_client"),
        ({"client_id": DEFAULT_CLIENT_ID}, 400, "unauthorized_client"),
        (
            {"client_id": DEFAULT_M2M_CLIENT_ID, "client_secret": DEFAULT_M2M_SECRET, "scope": "delete:all"},
            400,
            "invalid_scope",
        ),
        (
            {
                "client_id": DEFAULT_M2M_CLIENT_ID,
                "client_secret": DEFAULT_M2M_SECRET,
                "audience": "https://billing.example.com",
            },
            400,
            "invalid_target",
        ),
    ],
)
def test_client_credentials_refusals(
    dev: DevAuthorizationServer, form: dict[str, str], status: int, error: str
) -> None:
    got, _, body = request(dev, "POST", "/oauth2/token", {"grant_type": "client_credentials", **form})
    assert got == status and json.loads(body)["error"] == error


def test_user_profile_answers_for_a_valid_access_token_only(dev: DevAuthorizationServer) -> None:
    callback, _ = sign_in(dev, auth_params())
    token = redeem(dev, callback["code"])[1]["access_token"]
    status, _, body = request(dev, "GET", "/oauth2/v2/user_profile", headers={"Authorization": "Bearer " + token})
    profile = json.loads(body)
    assert status == 200 and profile["sub"] == profile["id"] == DEMO and profile["email"] == "demo@example.com"
    status, headers, _ = request(dev, "GET", "/oauth2/v2/user_profile", headers={"Authorization": "Bearer x.y.z"})
    assert status == 401 and "invalid_token" in headers["www-authenticate"]


def test_logout_redirects_only_to_registered_urls(dev: DevAuthorizationServer) -> None:
    status, headers, _ = request(dev, "GET", "/logout?" + urlencode({"redirect": "http://127.0.0.1:53180/"}))
    assert status == 302 and headers["location"] == "http://127.0.0.1:53180/"
    status, headers, body = request(dev, "GET", "/logout?" + urlencode({"redirect": "https://evil.example/"}))
    assert status == 400 and "location" not in headers and b"https://evil.example/" in body


def test_config_file_sections_replace_the_defaults_and_bad_ones_are_explained(tmp_path: Path) -> None:
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps({"users": [{"email": "solo@example.com"}]}))
    config = load_config(path)
    assert [u.email for u in config.users] == ["solo@example.com"] and DEFAULT_AUDIENCE in config.apis
    bad = [
        ({"clients": [{"client_id": "x", "apis": ["https://nowhere"]}]}, "not in 'apis'"),
        ({"clients": [{"client_id": "m", "type": "m2m"}]}, "needs client_secret"),
        ({"users": [{"email": "a@b.c", "organizations": {"org_x": {}}}]}, "org_x"),
        ({"token_lifetime": 0}, "token_lifetime"),
    ]
    for doc, message in bad:
        with pytest.raises(ConfigurationError, match=message):
            parse_config(doc)
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_config(path)


def test_the_signing_key_persists_with_private_modes(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = load_or_create_key(keys)
    assert kid_for(load_or_create_key(keys)) == kid_for(first)
    assert stat.S_IMODE((keys / "signing-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_dev_issuer_command_binds_loopback_says_it_is_for_tests_and_keeps_its_kid(tmp_path: Path) -> None:
    kids = []
    for _ in range(2):
        port = _free_port()
        cmd = [sys.executable, "-m", "kinde_guard", "dev-issuer", "--port", str(port), "--keys-dir", str(tmp_path)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env) as proc:
            assert proc.stderr is not None
            banner = "".join(proc.stderr.readline() for _ in range(3))
            assert "FOR DEVELOPMENT AND TESTS ONLY" in banner and f"http://127.0.0.1:{port}" in banner
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/.well-known/jwks")
                kids.append(json.loads(conn.getresponse().read())["keys"][0]["kid"])
            finally:
                conn.close()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            proc.stderr.read()
    assert kids[0] == kids[1]


def test_kinde_dev_issuer_is_still_importable_as_the_servers_first_name() -> None:
    from kinde_guard.devserver import KindeDevIssuer

    assert KindeDevIssuer is DevAuthorizationServer  # the demo and older tests import it


@contextlib.contextmanager
def dev_issuer_command(tmp_path: Path, config_path: Path | None = None) -> Iterator[str]:
    """`kinde-guard dev-issuer` (its run()) on a free port in a thread; yields the banner."""
    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(target=run, args=(0, config_path, tmp_path / "keys"), kwargs={"out": out, "stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not ("Try:" in out.getvalue() and out.getvalue().endswith("\n")):
            assert thread.is_alive() and time.monotonic() < deadline, out.getvalue()
            time.sleep(0.02)
        yield out.getvalue()
    finally:
        stop.set()
        thread.join(timeout=10)


def try_line(banner: str) -> list[str]:
    line = next(line for line in banner.splitlines() if line.startswith("Try:"))
    return shlex.split(line.removeprefix("Try:"))


def served_url(banner: str) -> str:
    found = re.search(r"issuer +(http://127\.0\.0\.1:\d+)", banner)
    assert found is not None, banner
    return found.group(1)


def test_the_banners_try_line_asks_for_the_tenants_api_as_audience(tmp_path: Path) -> None:
    with dev_issuer_command(tmp_path) as banner:
        url = served_url(banner)
    assert try_line(banner) == [
        "kinde-guard",
        "token",
        "--domain",
        url,
        "--client-id",
        DEFAULT_CLIENT_ID,
        "--audience",
        DEFAULT_AUDIENCE,
    ]


def http_call(url: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
    try:
        target = parts.path + ("?" + parts.query if parts.query else "")
        if form is None:
            conn.request("GET", target)
        else:
            conn.request("POST", target, urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def test_the_banners_try_line_run_as_printed_gets_a_token_the_api_accepts(tmp_path: Path) -> None:
    # A tenant whose first application needs a secret, and whose public one calls back elsewhere
    # than the token helper's default: the printed line must pick the public one and say so.
    audience, callback = "https://api.acme.test", f"http://127.0.0.1:{_free_port()}/callback"
    tenant = {
        "apis": [{"audience": audience, "scopes": ["read:orders"]}],
        "clients": [
            {"client_id": "backend", "type": "confidential", "client_secret": "s3cret", "redirect_uris": [callback]},
            {"client_id": "acme-cli", "redirect_uris": [callback], "apis": [audience]},
        ],
    }
    config_path = tmp_path / "tenant.json"
    config_path.write_text(json.dumps(tenant))
    with dev_issuer_command(tmp_path, config_path) as banner:
        url, argv = served_url(banner), try_line(banner)
        assert argv[:2] == ["kinde-guard", "token"] and "--audience" in argv
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_") and k != "BROWSER"}
        env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "kinde_guard", *argv[1:], "--no-browser", "--timeout", "30"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
            assert proc.stderr is not None
            printed = ""
            while "/oauth2/auth?" not in printed:  # the sign-in URL, printed instead of opening a browser
                line = proc.stderr.readline()
                assert line, f"no sign-in URL: {printed}"
                printed = line if "/oauth2/auth?" in line else printed + line
            # Be the browser: open the sign-in page, pick the first user, follow the redirect.
            status, _, page = http_call(printed.strip())
            assert status == 200, page
            request_id = re.search(r'name="request_id" value="([^"]+)"', page)
            user_id = re.search(r'name="user_id" value="([^"]+)"', page)
            assert request_id is not None and user_id is not None
            form = {"request_id": request_id.group(1), "user_id": user_id.group(1)}
            status, headers, body = http_call(url + "/oauth2/auth", form)
            assert status == 302, body
            assert http_call(headers["location"])[0] == 200
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        claims = KindeGuard(domain=url, audience=[audience]).verify(out.strip())
    assert claims.audience == (audience,) and claims.azp == "acme-cli"
