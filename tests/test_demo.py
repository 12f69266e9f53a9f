"""`make demo`: the walkthrough end to end (real dev issuer, uvicorn, token commands), its servers
staying up for Swagger UI until Ctrl-C, and the sentence a busy port gets instead of a traceback."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from kinde_guard.cli.pkce import make_verifier, s256_challenge
from kinde_guard.demo import DOCS_CLIENT_ID

ROOT = Path(__file__).resolve().parent.parent
FULL_TOKEN = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
FULL_API_KEY = re.compile(r"k_live_[A-Za-z0-9_-]{8,}")
#: public, no token, user token, M2M without write:orders, create, delete, expired token, API key,
#: revoked API key, API key without write:orders.
WALK_STATUSES = [200, 401, 200, 403, 201, 204, 401, 200, 401, 403]
STATUS = re.compile(r"^   -> (\d{3}) ", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_env(tmp_path: Path, **ports: int) -> dict[str, str]:
    """The environment without a display (the demo signs in itself), keys and caches in tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "ONCE", "BROWSER")}
    env = {k: v for k, v in env.items() if not k.startswith(("KINDE_", "DEMO_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    for name in ("issuer", "api", "callback"):
        env[f"DEMO_{name.upper()}_PORT"] = str(ports.get(name) or free_port())
    return env


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode()
    finally:
        conn.close()


def post(url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        conn.request("POST", parts.path, body=urlencode(form), headers=sent)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode()
    finally:
        conn.close()


@pytest.mark.timeout(300)
def test_make_demo_once_walks_through_the_api_and_exits_0(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    # -o: the virtualenv running this test is already set up; make must not reinstall it.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "demo", "ONCE=1", f"PY={sys.executable}"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "the demo signs in as demo@example.com itself" in out
    assert "-> M2M access token eyJhbGciOi…" in out
    assert [int(s) for s in STATUS.findall(out)] == WALK_STATUSES
    assert 'WWW-Authenticate: Bearer realm="api"\n' in out  # the 401 without a token: a bare challenge
    assert 'error="insufficient_scope"' in out and 'scope="write:orders"' in out
    assert 'error="invalid_token"' in out and "the token expired" in out
    assert "PASS  key and signature" in out and "Result: the token passes." in out
    assert "The walkthrough went as expected." in out and "Stopped the API and the dev issuer." in out
    assert not FULL_TOKEN.search(out + done.stderr)
    # API keys: made in the dev issuer, verified by the API through its Management API, never shown whole.
    assert "as M2M app kinde-guard-dev-management with scope read:api_keys" in out
    steps = out.split("\n\n")
    by_key = [step for step in steps if "Authorization: Bearer k_live_" in step]
    assert [int(s) for s in STATUS.findall("\n\n".join(by_key))] == [200, 401, 403]
    assert 'error="invalid_token"' in by_key[1] and "The API key is revoked." in by_key[1]
    assert 'error="insufficient_scope"' in by_key[2] and 'scope="write:orders"' in by_key[2]
    assert not FULL_API_KEY.search(out + done.stderr)
    assert "Traceback" not in out + done.stderr


BROWSER_SCRIPT = """#!{python}
# A stand-in browser: opens the sign-in page, clicks the demo user, follows the redirect to the callback.
import re, sys, urllib.parse, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
request_id = re.search(r'name="request_id" value="([^"]+)"', page).group(1)
user_id = re.search(r'name="user_id" value="([^"]+)" data-email="demo@example.com"', page).group(1)
form = urllib.parse.urlencode({{"request_id": request_id, "user_id": user_id}}).encode()
action = urllib.parse.urljoin(sys.argv[1], "/oauth2/auth")
urllib.request.urlopen(action, data=form, timeout=10).read()  # 302 to the callback, followed
open({marker!r}, "w").write("opened")
"""


@pytest.fixture
def running_demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str], list[str]]]:
    """The demo serving until Ctrl-C; with a display, so it signs in through $BROWSER."""
    browser, marker = tmp_path / "browser", tmp_path / "browser-opened"
    browser.write_text(BROWSER_SCRIPT.format(python=sys.executable, marker=str(marker)))
    browser.chmod(0o755)
    env = {**demo_env(tmp_path), "DISPLAY": ":0", "BROWSER": str(browser)}
    demo = subprocess.Popen(
        [sys.executable, "-m", "kinde_guard.demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "curl -H" in line:  # the last line before it waits for Ctrl-C
                break
        else:
            pytest.fail("the demo ended before serving:\n" + "".join(lines))
        assert marker.read_text() == "opened"
        yield demo, env, lines
    finally:
        if demo.poll() is None:
            # Ctrl-C, as a person stops it: the demo stops uvicorn (in a session of its own) and the
            # issuer; a SIGKILL would leave uvicorn serving.
            os.kill(demo.pid, signal.SIGINT)
            try:
                demo.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
        demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()


@pytest.mark.timeout(180)
def test_the_servers_stay_up_for_swagger_ui_until_ctrl_c(
    running_demo: tuple[subprocess.Popen[str], dict[str, str], list[str]],
) -> None:
    demo, env, lines = running_demo
    api = f"http://127.0.0.1:{env['DEMO_API_PORT']}"
    issuer = f"http://127.0.0.1:{env['DEMO_ISSUER_PORT']}"
    assert "Your browser opens the dev issuer's sign-in page" in "".join(lines)
    assert [int(s) for s in STATUS.findall("".join(lines))] == WALK_STATUSES
    assert f"  Swagger UI   {api}/docs" in "".join(lines)
    status, _, page = get(f"{api}/docs")
    assert status == 200 and "swagger" in page.lower()
    status, _, openapi = get(f"{api}/openapi.json")
    assert status == 200 and f"{issuer}/oauth2/auth" in openapi
    # Swagger UI's Authorize, request by request: its client and callback URL are registered, and
    # its origin may exchange the code at /oauth2/token from the browser (CORS).
    verifier = make_verifier()
    redirect = f"{api}/docs/oauth2-redirect"
    query = {"response_type": "code", "client_id": DOCS_CLIENT_ID, "redirect_uri": redirect, "state": "s" * 16}
    query.update(code_challenge=s256_challenge(verifier), code_challenge_method="S256", scope="openid read:orders")
    query["audience"] = "https://api.example.com"
    status, _, page = get(f"{issuer}/oauth2/auth?{urlencode(query)}")
    found = re.search(r'name="request_id" value="([^"]+)"', page)
    assert status == 200 and found is not None
    form = {"request_id": found.group(1), "user_id": "kp_de700000000000000000000000000001"}
    status, headers, _ = post(f"{issuer}/oauth2/auth", form)
    assert status == 302 and headers["location"].startswith(redirect + "?code=")
    code = parse_qs(urlsplit(headers["location"]).query)["code"][0]
    preflight = {
        "Origin": api,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-requested-with",
    }
    status, headers, _ = get(f"{issuer}/oauth2/token", preflight, method="OPTIONS")
    assert status == 204 and headers["access-control-allow-origin"] == api
    assert headers["access-control-allow-headers"] == "x-requested-with"
    exchange = {"grant_type": "authorization_code", "code": code, "client_id": DOCS_CLIENT_ID}
    exchange.update(redirect_uri=redirect, code_verifier=verifier)
    status, headers, body = post(
        f"{issuer}/oauth2/token", exchange, {"Origin": api, "X-Requested-With": "XMLHttpRequest"}
    )
    assert status == 200 and headers["access-control-allow-origin"] == api
    token = json.loads(body)["access_token"]
    status, _, _ = get(f"{api}/orders", {"Authorization": f"Bearer {token}"})
    assert status == 200
    status, headers, _ = get(f"{issuer}/oauth2/token", {"Origin": "http://evil.example"}, method="OPTIONS")
    assert "access-control-allow-origin" not in headers

    os.kill(demo.pid, signal.SIGINT)
    rest, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, rest
    assert "Stopped the API and the dev issuer." in rest and "Traceback" not in rest
    for port in (env["DEMO_API_PORT"], env["DEMO_ISSUER_PORT"]):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()


@pytest.mark.parametrize(
    ("busy", "what"),
    [("api", "the API"), ("issuer", "the dev issuer"), ("callback", "the token helper's sign-in callback")],
)
def test_a_busy_port_gets_one_clear_sentence_and_exit_1(tmp_path: Path, busy: str, what: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = demo_env(tmp_path, **{busy: port})
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "kinde_guard.demo", "--once"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    variable = f"DEMO_{busy.upper()}_PORT"
    assert done.stderr == (
        f"kinde_guard demo: Port {port} on 127.0.0.1 ({what}) is already in use: stop what is using it, "
        f"or pick another port: `{variable}=<port> make demo`.\n"
    )
    assert done.stdout == "" and time.monotonic() - started < 30
