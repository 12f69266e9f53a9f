"""`kinde-guard token`, `refresh` and `m2m` end to end against the dev issuer, as a real process.

The test plays the browser: it reads the sign-in URL the command prints (--no-browser), submits
the dev issuer's sign-in form with an HTTP client and delivers the callback to the command.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard.devserver import DEFAULT_M2M_CLIENT_ID, DEFAULT_M2M_SECRET, KindeDevIssuer
from kinde_guard.devserver.config import parse_config
from kinde_guard.testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID

JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Env:
    issuer: KindeDevIssuer
    callback: str
    cache: Path

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_") and k != "BROWSER"}
        return {**env, "XDG_CACHE_HOME": str(self.cache), "PYTHONUNBUFFERED": "1", **extra}

    def args(self, *extra: str, client: str = DEFAULT_CLIENT_ID) -> list[str]:
        return ["--domain", self.issuer.url, "--client-id", client, "--audience", DEFAULT_AUDIENCE, *extra]


@pytest.fixture
def env(rsa_keys: list[rsa.RSAPrivateKey], tmp_path: Path) -> Iterator[Env]:
    callback = f"http://127.0.0.1:{free_port()}/callback"
    doc = {
        "clients": [
            {"client_id": DEFAULT_CLIENT_ID, "redirect_uris": [callback], "apis": [DEFAULT_AUDIENCE]},
            {
                "client_id": "backend",
                "type": "confidential",
                "client_secret": "s3cret",
                "redirect_uris": [callback],
                "apis": [DEFAULT_AUDIENCE],
            },
            {
                "client_id": DEFAULT_M2M_CLIENT_ID,
                "type": "m2m",
                "client_secret": DEFAULT_M2M_SECRET,
                "apis": [DEFAULT_AUDIENCE],
                "scopes": ["read:orders", "write:orders"],
            },
        ]
    }
    with KindeDevIssuer(parse_config(doc), key=rsa_keys[0]).serve() as issuer:
        yield Env(issuer, callback, tmp_path / "cache")


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""), headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


def http_post(url: str, form: dict[str, str]) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


class Run:
    """`kinde-guard token ...` started in the background; read its sign-in URL from stderr."""

    #: Every command started by the current test; the autouse fixture below ends and closes them
    #: even when the test failed half-way (else their pipes leak into the next test's warnings).
    started: ClassVar[list[subprocess.Popen[str]]] = []

    def __init__(self, env: Env, argv: list[str], **environ: str) -> None:
        cmd = [sys.executable, "-m", "kinde_guard", *argv]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env.environ(**environ)
        )
        Run.started.append(self.proc)
        self.stderr_head = ""

    def sign_in_url(self) -> str:
        assert self.proc.stderr is not None
        while True:
            line = self.proc.stderr.readline()
            assert line, f"the command printed no sign-in URL: {self.stderr_head}"
            self.stderr_head += line
            if "/oauth2/auth?" in line:
                return line.strip()

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, self.stderr_head + err


@pytest.fixture(autouse=True)
def _end_started_commands() -> Iterator[None]:
    yield
    while Run.started:
        proc = Run.started.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # reaps it and closes its pipes


def browse(
    url: str, choice: dict[str, str] | None = None, tamper: Callable[[str], str] = lambda u: u
) -> tuple[int, str]:
    """Be the browser: open the sign-in page, submit it, follow the redirect to the callback."""
    status, _, page = http_get(url)
    assert status == 200, page
    request_id = re.search(r'name="request_id" value="([^"]+)"', page)
    assert request_id is not None
    base = urlunsplit(urlsplit(url)._replace(query=""))
    status, headers, body = http_post(
        base,
        {
            "request_id": request_id.group(1),
            **(choice or {"user_id": re.findall(r'name="user_id" value="([^"]+)"', page)[0]}),
        },
    )
    assert status == 302, body
    status, _, body = http_get(tamper(headers["location"]))
    return status, body


def replace_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def sign_in_once(env: Env, *extra: str, **environ: str) -> tuple[int, str, str]:
    run = Run(env, ["token", "--no-browser", "--redirect-uri", env.callback, "--timeout", "30", *extra], **environ)
    status, _ = browse(run.sign_in_url())
    assert status == 200
    return run.finish()


def test_token_prints_only_the_access_token_and_caches_it_privately(env: Env) -> None:
    code, out, err = sign_in_once(env, *env.args("--scope", "openid email offline read:orders"))
    assert code == 0, err
    token = out.strip()
    assert out.count("\n") == 1 and JWT.fullmatch(token)
    assert token not in err and "refresh_token" not in err
    claims = env.issuer.guard().verify(token, scopes=["read:orders"], permissions=["delete:orders"])
    assert claims.azp == DEFAULT_CLIENT_ID and claims.audience == (DEFAULT_AUDIENCE,)
    assert "expires in 23 h" in err
    directory = env.cache / "kinde-guard"
    files = list(directory.iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_environment_variables_stand_in_for_options_and_json_shows_claims(env: Env) -> None:
    environ = {"KINDE_DOMAIN": env.issuer.url, "KINDE_CLIENT_ID": DEFAULT_CLIENT_ID, "KINDE_AUDIENCE": DEFAULT_AUDIENCE}
    code, out, err = sign_in_once(env, "--json", **environ)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["token_response"]["token_type"] == "bearer" and doc["token_response"]["refresh_token_cached"] is True
    assert "refresh_token" not in doc["token_response"]
    assert doc["claims"]["access_token"]["aud"] == [DEFAULT_AUDIENCE]
    assert doc["claims"]["id_token"]["aud"] == [DEFAULT_CLIENT_ID, env.issuer.url]


def test_the_cache_is_reused_then_refreshed_and_fresh_skips_it(env: Env) -> None:
    code, first, err = sign_in_once(env, *env.args())
    assert code == 0, err
    argv = [
        sys.executable,
        "-m",
        "kinde_guard",
        "token",
        *env.args(),
        "--redirect-uri",
        env.callback,
        "--timeout",
        "1",
        "--no-browser",
    ]
    again = subprocess.run(argv, capture_output=True, text=True, env=env.environ(), timeout=60)
    assert again.returncode == 0 and again.stdout == first and "cached token" in again.stderr
    # Expire the cached entry: the refresh token gets a new access token, no sign-in needed.
    path = next((env.cache / "kinde-guard").iterdir())
    entry = json.loads(path.read_text())
    path.write_text(json.dumps({**entry, "expires_at": 0}))
    refreshed = subprocess.run(argv, capture_output=True, text=True, env=env.environ(), timeout=60)
    assert refreshed.returncode == 0 and "Refreshed" in refreshed.stderr
    assert refreshed.stdout != first and env.issuer.guard().verify(refreshed.stdout.strip())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = subprocess.run([*argv, "--fresh"], capture_output=True, text=True, env=env.environ(), timeout=60)
    assert fresh.returncode == 1 and "no sign-in completed within 1 s" in fresh.stderr


def test_refresh_command_uses_the_cached_refresh_token(env: Env) -> None:
    code, first, err = sign_in_once(env, *env.args())
    assert code == 0, err
    argv = [sys.executable, "-m", "kinde_guard", "refresh", *env.args()]
    result = subprocess.run(argv, capture_output=True, text=True, env=env.environ(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert JWT.fullmatch(result.stdout.strip()) and result.stdout != first
    assert (
        env.issuer.guard().verify(result.stdout.strip()).sub
        == jwt.decode(first.strip(), options={"verify_signature": False})["sub"]
    )
    other = subprocess.run([*argv, "--scope", "openid"], capture_output=True, text=True, env=env.environ(), timeout=60)
    assert other.returncode == 1 and "no cached refresh token" in other.stderr and "Traceback" not in other.stderr


def test_a_back_end_app_sends_its_secret(env: Env) -> None:
    code, out, err = sign_in_once(env, *env.args("--client-secret", "s3cret", client="backend"))
    assert code == 0, err
    assert env.issuer.guard().verify(out.strip()).azp == "backend"


def expect_failure(result: tuple[int, str, str], message: str) -> None:
    code, out, err = result
    assert code == 1 and out == "", err
    assert message in err and "Traceback" not in err
    assert err.count("kinde-guard: error:") == 1


def test_a_wrong_state_is_refused(env: Env) -> None:
    run = Run(env, ["token", *env.args(), "--no-browser", "--redirect-uri", env.callback, "--timeout", "30"])
    status, page = browse(run.sign_in_url(), tamper=lambda u: replace_param(u, "state", "forged-state-123"))
    assert status == 400 and "does not match" in page
    expect_failure(run.finish(), "state does not match this sign-in")


def test_a_replayed_code_is_refused(env: Env) -> None:
    run = Run(env, ["token", *env.args(), "--no-browser", "--redirect-uri", env.callback, "--timeout", "30"])

    def redeem_first(location: str) -> str:
        code = parse_qs(urlsplit(location).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": env.callback,
            "client_id": DEFAULT_CLIENT_ID,
            "code_verifier": "x" * 43,
        }
        assert http_post(env.issuer.url + "/oauth2/token", form)[0] == 400  # an attacker's attempt uses it up
        return location

    browse(run.sign_in_url(), tamper=redeem_first)
    expect_failure(run.finish(), "invalid_grant: The authorization code is unknown, already used or expired.")


def test_a_wrong_verifier_is_refused(env: Env) -> None:
    run = Run(env, ["token", *env.args(), "--no-browser", "--redirect-uri", env.callback, "--timeout", "30"])
    # The challenge is swapped on the way to the issuer: the command's verifier no longer matches.
    browse(replace_param(run.sign_in_url(), "code_challenge", "A" * 43))
    expect_failure(run.finish(), "invalid_grant: code_verifier does not match the code_challenge")


def test_a_cancelled_sign_in_reports_access_denied(env: Env) -> None:
    run = Run(env, ["token", *env.args(), "--no-browser", "--redirect-uri", env.callback, "--timeout", "30"])
    status, page = browse(run.sign_in_url(), choice={"cancel": "1"})
    assert status == 400 and "access_denied" in page
    expect_failure(run.finish(), "sign-in failed: access_denied: The user cancelled the sign-in.")


def test_an_unregistered_redirect_uri_is_named_and_the_command_times_out(env: Env) -> None:
    other = f"http://127.0.0.1:{free_port()}/callback"
    run = Run(env, ["token", *env.args(), "--no-browser", "--redirect-uri", other, "--timeout", "2"])
    status, _, page = http_get(run.sign_in_url())
    assert status == 400 and other in page and "not registered" in page
    expect_failure(run.finish(), "no sign-in completed within 2 s")


def test_a_timeout_is_one_sentence(env: Env) -> None:
    argv = [
        sys.executable,
        "-m",
        "kinde_guard",
        "token",
        *env.args(),
        "--no-browser",
        "--redirect-uri",
        env.callback,
        "--timeout",
        "1",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, env=env.environ(), timeout=60)
    expect_failure(
        (result.returncode, result.stdout, result.stderr), "no sign-in completed within 1 s; run the command again"
    )


def test_a_busy_callback_port_is_reported(env: Env) -> None:
    port = urlsplit(env.callback).port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port or 0))
        busy.listen()
        argv = [
            sys.executable,
            "-m",
            "kinde_guard",
            "token",
            *env.args(),
            "--no-browser",
            "--redirect-uri",
            env.callback,
        ]
        result = subprocess.run(argv, capture_output=True, text=True, env=env.environ(), timeout=60)
    expect_failure(
        (result.returncode, result.stdout, result.stderr), f"cannot listen for the callback on 127.0.0.1 port {port}"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token"], "--domain is required (or set KINDE_DOMAIN)"),
        (["token", "--domain", "http://127.0.0.1:9"], "--client-id is required"),
        (["token", "--domain", "http://127.0.0.1:{closed}", "--client-id", "x"], "cannot reach http://127.0.0.1:"),
        (["token", "--domain", "http://example.com", "--client-id", "x"], "must use https://"),
        (
            ["token", "--domain", "{issuer}", "--client-id", "x", "--redirect-uri", "https://example.com/cb"],
            "must be an http:// URL on 127.0.0.1",
        ),
        (["m2m", "--domain", "{issuer}", "--client-id", DEFAULT_M2M_CLIENT_ID], "--client-secret is required"),
        (
            ["m2m", "--domain", "{issuer}", "--client-id", DEFAULT_M2M_CLIENT_ID, "--client-secret", "wrong"],
            "invalid_client",
        ),
        (
            ["m2m", "--domain", "{issuer}", "--client-id", "nobody", "--client-secret", "x"],
            "Check --client-id and --client-secret",
        ),
    ],
)
def test_errors_are_one_sentence_without_traceback(env: Env, argv: list[str], message: str) -> None:
    argv = [a.format(closed=free_port(), issuer=env.issuer.url) for a in argv]
    result = subprocess.run(
        [sys.executable, "-m", "kinde_guard", *argv], capture_output=True, text=True, env=env.environ(), timeout=60
    )
    expect_failure((result.returncode, result.stdout, result.stderr), message)


def test_m2m_prints_a_client_credentials_token(env: Env) -> None:
    argv = [
        "m2m",
        *env.args("--client-secret", DEFAULT_M2M_SECRET, "--scope", "read:orders", client=DEFAULT_M2M_CLIENT_ID),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "kinde_guard", *argv], capture_output=True, text=True, env=env.environ(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    claims = env.issuer.guard().verify(result.stdout.strip(), scopes=["read:orders"])
    assert claims.is_m2m and claims.sub is None and claims.scopes == {"read:orders"}
    as_json = subprocess.run(
        [sys.executable, "-m", "kinde_guard", *argv, "--json"],
        capture_output=True,
        text=True,
        env=env.environ(),
        timeout=60,
    )
    doc: dict[str, Any] = json.loads(as_json.stdout)
    assert doc["claims"]["access_token"]["gty"] == ["client_credentials"] and "sub" not in doc["claims"]["access_token"]


def test_a_token_that_cannot_be_cached_is_still_printed(env: Env, tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    code, out, err = sign_in_once(env, *env.args(), XDG_CACHE_HOME=str(not_a_directory))
    assert code == 0 and JWT.fullmatch(out.strip()) and "Could not cache the token" in err


def run_command(env: Env, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kinde_guard", *argv], capture_output=True, text=True, env=env.environ(), timeout=60
    )


def kid_of(token: str) -> str:
    kid = jwt.get_unverified_header(token)["kid"]
    assert isinstance(kid, str)
    return kid


def token_again(env: Env, *extra: str) -> subprocess.CompletedProcess[str]:
    """`token` once more, unable to complete a sign-in (one second, no browser): only the cache can answer."""
    return run_command(
        env, "token", *env.args(*extra), "--redirect-uri", env.callback, "--timeout", "1", "--no-browser"
    )


def test_a_cached_token_whose_key_left_the_jwks_is_replaced(env: Env) -> None:
    code, first, err = sign_in_once(env, *env.args())
    assert code == 0, err
    old_kid = kid_of(first.strip())
    new_kid = env.issuer.rotate()  # the old key is gone from the JWKS
    again = token_again(env)
    assert again.returncode == 0, again.stderr
    token = again.stdout.strip()
    assert token != first.strip() and kid_of(token) == new_kid != old_kid
    assert old_kid in again.stderr and "no longer" in again.stderr and "Refreshed" in again.stderr
    assert env.issuer.guard().verify(token)
    # Without a refresh token to fall back on, the user is asked to sign in again.
    path = next((env.cache / "kinde-guard").iterdir())
    entry = json.loads(path.read_text())
    del entry["refresh_token"]
    path.write_text(json.dumps(entry))
    env.issuer.rotate()
    signed_out = token_again(env)
    assert signed_out.returncode == 1 and "no sign-in completed within 1 s" in signed_out.stderr


def test_a_cached_token_is_still_used_when_the_jwks_cannot_be_fetched_and_the_user_is_told(env: Env) -> None:
    code, first, err = sign_in_once(env, *env.args())
    assert code == 0, err
    env.issuer.jwks_status = 500
    again = token_again(env)
    assert again.returncode == 0 and again.stdout == first, again.stderr
    assert "Could not fetch the keys" in again.stderr and "--fresh" in again.stderr


def test_refresh_after_the_readmes_token_line_needs_no_scope(env: Env) -> None:
    # The README's dev-issuer line asks for a scope of its own; its `refresh` line names none.
    code, first, err = sign_in_once(env, *env.args("--scope", "openid email offline read:orders write:orders"))
    assert code == 0, err
    result = run_command(env, "refresh", *env.args())
    assert result.returncode == 0, result.stderr
    refreshed = env.issuer.guard().verify(result.stdout.strip(), scopes=["read:orders", "write:orders"])
    assert (
        result.stdout != first
        and refreshed.sub == jwt.decode(first.strip(), options={"verify_signature": False})["sub"]
    )
    # The refreshed token replaced the cached one: `token` with that scope now hands it out.
    again = token_again(env, "--scope", "openid email offline read:orders write:orders")
    assert again.returncode == 0 and again.stdout == result.stdout, again.stderr
    assert len(list((env.cache / "kinde-guard").iterdir())) == 1
    # Another audience has nothing cached.
    other = run_command(env, "refresh", "--domain", env.issuer.url, "--client-id", DEFAULT_CLIENT_ID)
    assert other.returncode == 1 and "no cached refresh token" in other.stderr


def test_refresh_without_a_scope_takes_the_newest_cached_token(env: Env) -> None:
    assert sign_in_once(env, *env.args("--scope", "openid offline"))[0] == 0
    assert sign_in_once(env, *env.args("--scope", "openid offline read:orders"))[0] == 0
    result = run_command(env, "refresh", *env.args())
    assert result.returncode == 0, result.stderr
    assert env.issuer.guard().verify(result.stdout.strip()).scopes == {"openid", "offline", "read:orders"}


def test_token_warns_when_the_token_names_no_audience(env: Env) -> None:
    code, out, err = sign_in_once(env, "--domain", env.issuer.url, "--client-id", DEFAULT_CLIENT_ID)
    assert code == 0 and jwt.decode(out.strip(), options={"verify_signature": False})["aud"] == []
    assert "no audience" in err and "--audience" in err
    _, _, with_audience = sign_in_once(env, *env.args(), "--fresh")
    assert "no audience" not in with_audience


def test_token_and_m2m_scopes_are_space_separated_and_repeatable(env: Env) -> None:
    scopes = ["--scope", "openid", "--scope", "email offline read:orders"]
    run = Run(env, ["token", *env.args(*scopes), "--no-browser", "--redirect-uri", env.callback, "--timeout", "30"])
    url = run.sign_in_url()
    assert parse_qs(urlsplit(url).query)["scope"] == ["openid email offline read:orders"]
    assert browse(url)[0] == 200
    code, out, err = run.finish()
    assert code == 0 and env.issuer.guard().verify(out.strip()).scopes >= {"offline", "read:orders"}, err
    m2m = run_command(
        env,
        "m2m",
        *env.args("--client-secret", DEFAULT_M2M_SECRET, client=DEFAULT_M2M_CLIENT_ID),
        "--scope",
        "read:orders",
        "--scope",
        "write:orders",
    )
    assert m2m.returncode == 0, m2m.stderr
    assert env.issuer.guard().verify(m2m.stdout.strip()).scopes == {"read:orders", "write:orders"}
