"""`kinde-guard token --device` (RFC 8628) over real HTTP: against the dev issuer, with the sign-in
done as a browser would (form posts to /device and the sign-in page), and against an independent
RFC 8628 server written here (other paths, error bodies and intervals).

The poller's clock and sleep are injected where the spacing of polls is measured: the servers
share that clock, so the measured spacing is the one the server saw, without waiting for it.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard._issuer_http import Request, Response
from kinde_guard.cli.device import DeviceAuthorization, DeviceFlow, qr_code_lines
from kinde_guard.cli.loopback import TokenHelperError
from kinde_guard.devserver import DEFAULT_DEVICE_CLIENT_ID, DevAuthorizationServer
from kinde_guard.devserver.config import parse_config
from kinde_guard.testing import DEFAULT_AUDIENCE, DevIssuer, FrozenClock

JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
SCOPE = "openid email offline read:orders"


def tenant(**top: Any) -> dict[str, Any]:
    return {
        "clients": [
            {"client_id": DEFAULT_DEVICE_CLIENT_ID, "type": "device", "name": "Device app", "apis": [DEFAULT_AUDIENCE]},
            {"client_id": "spa", "type": "public", "redirect_uris": ["http://127.0.0.1:1/cb"], "apis": []},
        ],
        **top,
    }


class RecordingDevIssuer(DevAuthorizationServer):
    """The dev issuer, noting when (on its clock) each device-code poll arrived and from whom."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.polls: list[tuple[float, str]] = []
        self.device_codes: list[str] = []

    def handle(self, request: Request) -> Response:
        if request.path == "/oauth2/token" and "device_code" in request.form().get("grant_type", ""):
            self.polls.append((self.clock(), request.headers.get("User-Agent") or ""))
        response = super().handle(request)
        if request.path == "/oauth2/device/auth" and response.status == 200:
            self.device_codes.append(json.loads(response.body)["device_code"])
        return response

    def client_polls(self) -> list[float]:
        return [t for t, agent in self.polls if agent == "kinde-guard"]


# -- playing the browser -------------------------------------------------------------------------


def call(method: str, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        body = urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body, headers)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def approve_on_device_page(complete_url: str, cancel: bool = False) -> str:
    """Open the complete verification URL, confirm the pre-filled code, pick the first demo user
    (or cancel) on the sign-in page; the final page."""
    status, page = call("GET", complete_url)
    assert status == 200, page
    code = re.search(r'name="user_code"[^>]* value="([^"]+)"', page)
    assert code is not None, page
    base = complete_url.split("?")[0]
    status, page = call("POST", base, {"user_code": code.group(1)})
    assert status == 200, page
    request_id = re.search(r'name="request_id" value="([^"]+)"', page)
    assert request_id is not None and 'action="/device/sign-in"' in page
    choice = {"cancel": "1"} if cancel else {"user_id": re.findall(r'name="user_id" value="([^"]+)"', page)[0]}
    status, page = call("POST", base + "/sign-in", {"request_id": request_id.group(1), **choice})
    assert status == 200, page
    return page


# -- the command as a real process -----------------------------------------------------------------


@pytest.fixture
def dev(rsa_keys: list[rsa.RSAPrivateKey]) -> Iterator[DevAuthorizationServer]:
    # A 1-second interval: the processes below poll on the real clock.
    with DevAuthorizationServer(parse_config(tenant(device_interval=1)), key=rsa_keys[0]).serve() as server:
        yield server


class Command:
    """`python -m kinde_guard token --device ...` in the background; reads the URL it shows."""

    def __init__(self, dev: DevAuthorizationServer, cache: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_")}
        env.update(XDG_CACHE_HOME=str(cache), PYTHONUNBUFFERED="1")
        argv = ["--domain", dev.url, "--client-id", DEFAULT_DEVICE_CLIENT_ID, "--audience", DEFAULT_AUDIENCE]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kinde_guard", "token", "--device", *argv, "--scope", SCOPE, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.head = ""

    def read_until(self, needle: str) -> str:
        assert self.proc.stderr is not None
        while needle not in self.head:
            line = self.proc.stderr.readline()
            assert line, f"the command ended before printing {needle!r}: {self.head}"
            self.head += line
        return self.head

    def complete_url(self) -> str:
        found = re.search(r"(http://\S+/device\?user_code=\S+)", self.read_until("/device?user_code="))
        assert found is not None
        return found.group(1)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, self.head + err


def test_device_sign_in_prints_only_the_token_and_caches_the_refresh_token_privately(
    dev: DevAuthorizationServer, tmp_path: Path
) -> None:
    command = Command(dev, tmp_path / "cache")
    url = command.complete_url()
    code = parse_qs(urlsplit(url).query)["user_code"][0]
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", code)
    assert "Device connected" in approve_on_device_page(url)
    status, out, err = command.finish()
    assert status == 0, err
    assert JWT.fullmatch(out.strip()) and out.count("\n") == 1  # stdout: the access token, nothing else
    assert code in err and "Traceback" not in err
    claims = jwt.decode(out.strip(), options={"verify_signature": False})
    assert claims["azp"] == DEFAULT_DEVICE_CLIENT_ID and claims["aud"] == [DEFAULT_AUDIENCE]
    assert "read:orders" in claims["scp"]
    [cached] = (tmp_path / "cache" / "kinde-guard").glob("token-*.json")
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    entry = json.loads(cached.read_text())
    assert entry["access_token"] == out.strip() and isinstance(entry["refresh_token"], str)
    # The next run answers from the cache, without a device code.
    again = Command(dev, tmp_path / "cache", "--json")
    status, out, err = again.finish()
    assert status == 0 and "Using the cached token" in err and "user_code" not in err
    shown = json.loads(out)
    assert shown["token_response"]["refresh_token_cached"] is True and "refresh_token" not in shown["token_response"]


def test_a_cancelled_device_sign_in_ends_with_access_denied_in_one_sentence(
    dev: DevAuthorizationServer, tmp_path: Path
) -> None:
    command = Command(dev, tmp_path / "cache")
    assert "not connected" in approve_on_device_page(command.complete_url(), cancel=True)
    status, out, err = command.finish()
    assert status == 1 and out == ""
    last = err.strip().splitlines()[-1]
    assert last == "kinde-guard: error: the sign-in was denied on the verification page (access_denied); no token."
    assert "Traceback" not in err


def test_ctrl_c_while_polling_ends_cleanly(dev: DevAuthorizationServer, tmp_path: Path) -> None:
    command = Command(dev, tmp_path / "cache")
    command.read_until("Waiting for the sign-in")
    command.proc.send_signal(signal.SIGINT)
    status, out, err = command.finish()
    assert status == 130 and out == ""
    assert err.strip().splitlines()[-1] == "kinde-guard: interrupted."
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_org_code_is_refused_with_device(dev: DevAuthorizationServer, tmp_path: Path) -> None:
    status, out, err = Command(dev, tmp_path / "cache", "--org-code", "org_dev").finish()
    assert status == 1 and out == ""
    assert err.strip() == "kinde-guard: error: --org-code works with the browser sign-in only, not with --device."


# -- the poller on an injected clock, against the dev issuer ---------------------------------------


@dataclass
class FakeTime:
    """The poller's clock and sleep, shared with the server: sleeping advances the clock; ``during``
    runs once per sleep (the n-th sleep gets n), halfway through it."""

    clock: FrozenClock
    during: Callable[[int], None] = lambda n: None
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds / 2)
        self.during(len(self.sleeps))
        self.clock.advance(seconds / 2)


def device_flow(
    url: str, fake: FakeTime, client_id: str = DEFAULT_DEVICE_CLIENT_ID, log: io.StringIO | None = None
) -> DeviceFlow:
    log = log if log is not None else io.StringIO()
    return DeviceFlow(url, client_id, None, [DEFAULT_AUDIENCE], SCOPE, log=log, clock=fake.clock, sleep=fake.sleep)


@pytest.fixture
def slow_dev(rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> Iterator[RecordingDevIssuer]:
    config = parse_config(tenant(device_interval=5, device_code_lifetime=30))
    with RecordingDevIssuer(config, key=rsa_keys[0], clock=clock).serve() as server:
        yield server


def complete_url(shown: io.StringIO) -> str:
    """The complete verification URL DeviceFlow.show printed."""
    found = re.search(r"(http://\S+/device\?user_code=\S+)", shown.getvalue())
    assert found is not None, shown.getvalue()
    return found.group(1)


def test_polls_are_spaced_by_the_interval_and_the_token_comes_after_the_sign_in(
    slow_dev: RecordingDevIssuer, clock: FrozenClock
) -> None:
    shown = io.StringIO()
    fake = FakeTime(clock)
    fake.during = lambda n: approve_on_device_page(complete_url(shown)) if n == 3 else None
    start = clock()
    response = device_flow(slow_dev.url, fake, log=shown).run()
    assert JWT.fullmatch(response["access_token"]) and isinstance(response["refresh_token"], str)
    polls = slow_dev.client_polls()
    assert [t - start for t in polls] == [5, 10, 15]  # the first one a full interval after the code
    assert "Waiting for the sign-in" in shown.getvalue()


def test_slow_down_from_the_dev_issuer_adds_five_seconds_for_good(
    slow_dev: RecordingDevIssuer, clock: FrozenClock
) -> None:
    shown = io.StringIO()
    fake = FakeTime(clock)

    def during(n: int) -> None:
        if n == 1:  # another poller of the same code, halfway: the client's next poll is too soon
            status, body = token_poll(slow_dev.url, slow_dev.device_codes[0])
            assert status == 400 and json.loads(body)["error"] == "authorization_pending"
        if n == 3:
            approve_on_device_page(complete_url(shown))

    fake.during = during
    start = clock()
    device_flow(slow_dev.url, fake, log=shown).run()
    polls = [t - start for t in slow_dev.client_polls()]
    assert polls == [5, 15, 25]  # slow_down at 5: the interval is 10 from then on
    assert "every 10 s from now on" in shown.getvalue()


def token_poll(url: str, device_code: str) -> tuple[int, str]:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": device_code,
        "client_id": DEFAULT_DEVICE_CLIENT_ID,
    }
    return call("POST", url + "/oauth2/token", form)


def test_polling_stops_when_the_code_expires(slow_dev: RecordingDevIssuer, clock: FrozenClock) -> None:
    start = clock()
    with pytest.raises(TokenHelperError, match="device code expired before the sign-in"):
        device_flow(slow_dev.url, FakeTime(clock)).run()
    assert [t - start for t in slow_dev.client_polls()] == [5, 10, 15, 20, 25]  # none at or after 30
    assert clock() - start <= 30


# -- an independent RFC 8628 server --------------------------------------------------------------


@dataclass
class Rfc8628Server:
    """A minimal RFC 8628 authorization server, not ours: its own paths, no complete URI, bare
    error bodies, a token endpoint answering from ``script`` (one entry per poll)."""

    clock: FrozenClock
    script: list[tuple[int, dict[str, Any]]]
    discovery: bool = True
    device_doc: dict[str, Any] = field(default_factory=dict)
    device_requests: list[dict[str, str]] = field(default_factory=list)
    polls: list[tuple[float, dict[str, str]]] = field(default_factory=list)

    def start(self) -> str:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def answer(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration" and owner.discovery:
                    base = f"http://127.0.0.1:{self.server.server_address[1]}"
                    doc = {
                        "issuer": base,
                        "authorization_endpoint": base + "/authorize",
                        "token_endpoint": base + "/as/token",
                        "jwks_uri": base + "/keys",
                        "device_authorization_endpoint": base + "/as/device_authorization",
                    }
                    self.answer(200, doc)
                else:
                    self.answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                device_path = "/as/device_authorization" if owner.discovery else "/oauth2/device/auth"
                token_path = "/as/token" if owner.discovery else "/oauth2/token"
                if self.path == device_path:
                    owner.device_requests.append(form)
                    doc = {"device_code": "dc-1", "user_code": "WDJB-MJHT", "verification_uri": "https://x/act"}
                    self.answer(200, {**doc, "expires_in": 1800, **owner.device_doc})
                elif self.path == token_path:
                    owner.polls.append((owner.clock(), form))
                    self.answer(*owner.script.pop(0))
                else:
                    self.answer(404, {"error": "not_found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rfc_server(clock: FrozenClock) -> Iterator[Callable[..., tuple[Rfc8628Server, str]]]:
    started: list[Rfc8628Server] = []

    def start(script: list[tuple[int, dict[str, Any]]], **options: Any) -> tuple[Rfc8628Server, str]:
        server = Rfc8628Server(clock, script, **options)
        started.append(server)
        return server, server.start()

    yield start
    for server in started:
        server.stop()


PENDING = (400, {"error": "authorization_pending"})
SLOW_DOWN = (400, {"error": "slow_down"})


def token_answer() -> tuple[int, dict[str, Any]]:
    token = DevIssuer().mint(scopes=["read:orders"])
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 300}


def test_an_independent_server_slow_down_is_cumulative_and_the_interval_is_its_own(
    rfc_server: Callable[..., tuple[Rfc8628Server, str]], clock: FrozenClock
) -> None:
    server, url = rfc_server([PENDING, SLOW_DOWN, SLOW_DOWN, PENDING, token_answer()], device_doc={"interval": 3})
    start = clock()
    response = device_flow(url, FakeTime(clock), client_id="cli").run()
    assert JWT.fullmatch(response["access_token"])
    times = [t - start for t, _ in server.polls]
    assert times == [3, 6, 14, 27, 40]  # 3, 3, then 8 after the first slow_down, 13 after the second
    assert server.device_requests == [{"client_id": "cli", "scope": SCOPE, "audience": DEFAULT_AUDIENCE}]
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    assert all(form == {"grant_type": grant, "device_code": "dc-1", "client_id": "cli"} for _, form in server.polls)


def test_no_interval_means_five_seconds_and_kindes_path_without_discovery(
    rfc_server: Callable[..., tuple[Rfc8628Server, str]], clock: FrozenClock
) -> None:
    server, url = rfc_server([PENDING, token_answer()], discovery=False)
    start = clock()
    shown = io.StringIO()
    device_flow(url, FakeTime(clock), client_id="cli", log=shown).run()
    assert [t - start for t, _ in server.polls] == [5, 10]
    assert "open https://x/act on any device and enter the code  WDJB-MJHT" in shown.getvalue()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((400, {"error": "expired_token"}), "the device code expired before the sign-in was completed"),
        ((403, {"error": "access_denied", "error_description": "no"}), "the sign-in was denied"),
        ((400, {"error": "invalid_grant"}), "the token endpoint refused: invalid_grant: HTTP 400"),
    ],
)
def test_an_independent_servers_final_errors_end_the_flow_in_one_sentence(
    rfc_server: Callable[..., tuple[Rfc8628Server, str]],
    clock: FrozenClock,
    answer: tuple[int, dict[str, Any]],
    message: str,
) -> None:
    server, url = rfc_server([PENDING, answer], device_doc={"interval": 2})
    with pytest.raises(TokenHelperError, match=re.escape(message)) as caught:
        device_flow(url, FakeTime(clock), client_id="cli").run()
    assert len(server.polls) == 2 and "\n" not in str(caught.value)


def test_a_device_endpoint_refusal_is_one_sentence(
    rfc_server: Callable[..., tuple[Rfc8628Server, str]], clock: FrozenClock
) -> None:
    _, url = rfc_server([], device_doc={"device_code": None})
    with pytest.raises(TokenHelperError, match="answered without a device_code"):
        device_flow(url, FakeTime(clock), client_id="cli").run()


class Terminal(io.StringIO):
    """A stream that says it is a UTF-8 terminal."""

    def isatty(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return "utf-8"


def test_a_terminal_gets_a_qr_code_of_the_complete_url_and_a_pipe_does_not() -> None:
    pytest.importorskip("qrcode")  # the qr extra; `make test` installs it
    lines = qr_code_lines("http://127.0.0.1:53181/device?user_code=WDJB-MJHT")
    assert lines is not None and len(lines) >= 14 and len({len(line) for line in lines}) == 1
    assert set("".join(lines)) <= {" ", "\u2580", "\u2584", "\u2588"} and "\u2588" in "".join(lines)
    auth = DeviceAuthorization("dc", "WDJB-MJHT", "https://x/device", "https://x/device?user_code=WDJB-MJHT", 600, 5)
    terminal, pipe = Terminal(), io.StringIO()
    DeviceFlow("https://x", "cli", log=terminal).show(auth)
    DeviceFlow("https://x", "cli", log=pipe).show(auth)
    assert "Or scan this QR code" in terminal.getvalue() and "\u2588" in terminal.getvalue()
    assert "QR" not in pipe.getvalue() and "https://x/device?user_code=WDJB-MJHT" in pipe.getvalue()
