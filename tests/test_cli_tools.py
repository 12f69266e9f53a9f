"""`kinde-guard decode`, `check` and `--help`: in-process through cli.main, against a served issuer."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard.cli import main
from kinde_guard.devserver import KindeDevIssuer
from kinde_guard.devserver.records import Grant
from kinde_guard.testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID, OMIT, DevIssuer, generate_rsa_key

SUBCOMMANDS = ["token", "m2m", "refresh", "decode", "check", "dev-issuer"]


def run(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    stdin: str | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def check_argv(issuer: DevIssuer, token: str, *extra: str) -> list[str]:
    return ["check", token, "--domain", issuer.url, "--audience", DEFAULT_AUDIENCE, *extra]


def flow_token(issuer: DevIssuer) -> str:
    """An access token issued by the dev issuer's own token endpoint logic (the demo user's grant)."""
    assert isinstance(issuer, KindeDevIssuer)
    user = issuer.config.users[0]
    grant = Grant(
        DEFAULT_CLIENT_ID, user, ("openid", "offline", "read:orders"), (DEFAULT_AUDIENCE,), "org_dev", None, 0
    )
    token = issuer.user_token_response(grant)["access_token"]
    assert isinstance(token, str)
    return token


@pytest.fixture
def issuer(rsa_keys: list[rsa.RSAPrivateKey]) -> DevIssuer:
    return KindeDevIssuer(key=rsa_keys[0])


# (name, token maker, extra check options, expected exit, {check: status}, text expected in the output)
Maker = Callable[[DevIssuer], str]
CASES: list[tuple[str, Maker, list[str], int, dict[str, str], str]] = [
    (
        "dev issuer flow token",
        flow_token,
        ["--scope", "read:orders", "--permission", "delete:orders"],
        0,
        {"lifetime": "pass", "permissions": "pass"},
        "expires in 23 h",
    ),
    (
        "minted user token",
        lambda i: i.mint(scopes=["read:orders"]),
        ["--scope", "read:orders"],
        0,
        {"scopes": "pass"},
        "the token passes",
    ),
    (
        "m2m token",
        lambda i: i.mint_m2m(scopes=["write:orders"]),
        ["--scope", "write:orders"],
        0,
        {"scopes": "pass"},
        "has write:orders",
    ),
    ("expired", lambda i: i.mint(exp=int(i.clock()) - 7200), [], 1, {"lifetime": "fail"}, "expired 2 h ago"),
    ("no exp", lambda i: i.mint(exp=OMIT), [], 1, {"lifetime": "fail"}, 'no "exp" claim'),
    (
        "wrong audience",
        lambda i: i.mint(aud=["https://other.example.com"]),
        [],
        1,
        {"audience": "fail"},
        "https://other.example.com",
    ),
    ("empty audience", lambda i: i.mint(aud=[]), [], 1, {"audience": "fail"}, "missing or empty"),
    ("id token", lambda i: i.mint_id_token(), [], 1, {"audience": "fail"}, "does not name this API"),
    (
        "wrong issuer",
        lambda i: i.mint(iss="https://evil.kinde.com"),
        [],
        1,
        {"issuer": "fail"},
        "https://evil.kinde.com",
    ),
    (
        "missing scope",
        lambda i: i.mint(scopes=["openid"]),
        ["--scope", "write:orders"],
        1,
        {"scopes": "fail"},
        "missing: write:orders",
    ),
    (
        "scope only in permissions",
        lambda i: i.mint(scopes=[], permissions=["read:orders"]),
        ["--scope", "read:orders"],
        1,
        {"scopes": "fail", "permissions": "pass"},
        "missing: read:orders",
    ),
    (
        "missing permission",
        lambda i: i.mint(permissions=["read:orders"]),
        ["--permission", "delete:orders"],
        1,
        {"permissions": "fail"},
        "missing: delete:orders",
    ),
    (
        "forged signature",
        lambda i: i.mint(key=generate_rsa_key()),
        [],
        1,
        {"key and signature": "fail", "issuer": "skip"},
        "signature is invalid",
    ),
    ("unknown kid", lambda i: i.mint(headers={"kid": "nope"}), [], 1, {"key and signature": "fail"}, "nope"),
    (
        "hmac alg",
        lambda i: i.mint(headers={"alg": "HS256"}),
        [],
        1,
        {"key and signature": "fail"},
        "algorithm is not accepted",
    ),
    ("not a jwt", lambda i: "not-a-jwt", [], 1, {"key and signature": "fail", "lifetime": "skip"}, "not a JWT"),
]


@pytest.mark.parametrize(("name", "make", "options", "exit_code", "statuses", "text"), CASES, ids=[c[0] for c in CASES])
def test_check_explains_each_check(
    issuer: DevIssuer,
    capsys: pytest.CaptureFixture[str],
    name: str,
    make: Maker,
    options: list[str],
    exit_code: int,
    statuses: dict[str, str],
    text: str,
) -> None:
    with issuer.serve():
        code, out, err = run(check_argv(issuer, make(issuer), *options), capsys)
        as_json = run([*check_argv(issuer, make(issuer), *options), "--json"], capsys)
    assert code == exit_code, out + err
    lines = {line[6:24].strip(): line[:4].strip() for line in out.splitlines() if line[:4] in ("PASS", "FAIL", "SKIP")}
    assert list(lines)[:6] == ["key and signature", "issuer", "audience", "lifetime", "scopes", "permissions"]
    for check, status in statuses.items():
        assert lines[check] == status.upper(), out
    assert text in out
    doc = json.loads(as_json[1])
    assert as_json[0] == exit_code and doc["ok"] is (exit_code == 0)
    assert {c["check"]: c["status"] for c in doc["checks"]}.items() >= statuses.items()


def test_check_reads_the_token_from_stdin_and_the_domain_from_the_environment(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINDE_AUDIENCE", DEFAULT_AUDIENCE)
    with issuer.serve():
        monkeypatch.setenv("KINDE_DOMAIN", issuer.url)
        code, out, _ = run(["check", "-"], capsys, issuer.mint() + "\n", monkeypatch)
    assert code == 0 and "Result: the token passes." in out


def test_check_reports_an_unreachable_jwks_as_a_failed_check(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    with issuer.serve():
        token = issuer.mint()
        argv = check_argv(issuer, token, "--jwks-uri", issuer.url + "/nowhere")
        code, out, _ = run(argv, capsys)
    assert code == 1 and out.startswith("FAIL  key and signature") and "no signing key" in out


def test_decode_shows_header_claims_and_readable_times_marked_not_verified(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    token = issuer.mint(scopes=["read:orders"], expires_in=7230)  # "2 h" even a few seconds later
    code, out, _ = run(["decode", token], capsys)
    assert code == 0 and out.startswith("NOT VERIFIED")
    assert '"alg": "RS256"' in out and '"read:orders"' in out and "UTC (in 2 h)" in out
    assert token not in out
    code, out, _ = run(["decode", token, "--json"], capsys)
    doc = json.loads(out)
    assert doc["verified"] is False and doc["claims"]["scp"] == ["read:orders"] and "in 2 h" in doc["times"]["exp"]


def test_decode_reads_stdin_with_a_dash(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["decode", "-"], capsys, issuer.mint_m2m() + "\n", monkeypatch)
    assert code == 0 and '"client_credentials"' in out


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("abc", "not a JWT"),
        ("a.b.c", "not base64url-encoded JSON"),
        ("W10.W10.x", "not a JSON object"),
        ("", "no token given"),
    ],
)
def test_decode_errors_are_one_sentence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, token: str, message: str
) -> None:
    code, out, err = run(["decode", "-"], capsys, token, monkeypatch)
    assert code == 1 and out == "" and message in err and err.startswith("kinde-guard: error:")


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help_with_examples(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([sub, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "examples:" in out and f"kinde-guard {sub}" in out


def test_python_dash_m_is_the_same_command_and_lists_every_subcommand() -> None:
    result = subprocess.run([sys.executable, "-m", "kinde_guard", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for sub in SUBCOMMANDS:
        assert sub in result.stdout
    bare = subprocess.run([sys.executable, "-m", "kinde_guard"], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2 and "COMMAND" in bare.stderr


def test_dev_issuer_prints_its_default_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["dev-issuer", "--print-config"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["apis"][0] == {"audience": DEFAULT_AUDIENCE, "scopes": ["read:orders", "write:orders"]}
    assert doc["users"][0]["organizations"]["org_dev"]["permissions"] == ["delete:orders"]
