"""`kinde-guard decode`, `check` and `--help`: in-process through cli.main, against a served issuer."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import kinde_guard
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


def one_sentence(err: str) -> str:
    """The error message of a failed command: one line, one sentence, no traceback."""
    assert err.startswith("kinde-guard: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    message = err.removeprefix("kinde-guard: error: ").strip()
    assert message.endswith(".") and not re.search(r"[.;!?]\s+[A-Z]", message), message
    return message


@pytest.mark.parametrize(
    ("option", "values"),
    [
        ("--scope", ["read:orders write:orders"]),
        ("--scope", ["read:orders", "write:orders"]),
        ("--permission", ["delete:orders refund:orders"]),
        ("--permission", ["delete:orders", "refund:orders"]),
    ],
)
def test_check_scopes_and_permissions_are_space_separated_and_repeatable(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], option: str, values: list[str]
) -> None:
    kind = "scopes" if option == "--scope" else "permissions"
    given = {"scopes": ["read:orders"], "permissions": ["delete:orders"]}
    both = {"scopes": ["read:orders", "write:orders"], "permissions": ["delete:orders", "refund:orders"]}
    extra = [a for value in values for a in (option, value)]
    with issuer.serve():
        missing = run(check_argv(issuer, issuer.mint(**given), *extra, "--json"), capsys)
        passing = run(check_argv(issuer, issuer.mint(**both), *extra, "--json"), capsys)
    doc = json.loads(missing[1])
    row = next(c for c in doc["checks"] if c["check"] == kind)
    assert missing[0] == 1 and row["status"] == "fail" and "missing: " in row["detail"]
    assert row["detail"].split("missing: ")[1].startswith(both[kind][1]), row
    assert passing[0] == 0, passing[1]


def test_check_without_an_audience_names_the_flag_and_the_variable_in_one_sentence(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KINDE_AUDIENCE", raising=False)
    with issuer.serve():
        code, out, err = run(["check", issuer.mint(), "--domain", issuer.url], capsys)
    message = one_sentence(err)
    assert code == 1 and out == ""
    assert "--audience" in message and "KINDE_AUDIENCE" in message
    assert "audience=" not in message and "insecure_accept_empty_audience" not in message


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--issuer", "https://acme.kinde.com/"], "--issuer"),
        (["--jwks-uri", "ftp://example.com/jwks"], "--jwks-uri"),
        (["--jwks-uri", "http://example.com/jwks"], "--jwks-uri"),
        (["--leeway", "-1"], "--leeway"),
    ],
)
def test_check_settings_errors_name_flags_not_keyword_arguments(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], extra: list[str], flag: str
) -> None:
    with issuer.serve():
        code, out, err = run(check_argv(issuer, issuer.mint(), *extra), capsys)
    message = one_sentence(err)
    assert code == 1 and out == "" and message.startswith(flag), message


def test_check_against_an_unreachable_domain_prints_only_its_own_sentences() -> None:
    token = DevIssuer().mint()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        domain = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = subprocess.run(
        [sys.executable, "-m", "kinde_guard", "check", token, "--domain", domain, "--audience", DEFAULT_AUDIENCE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout.startswith("FAIL  key and signature  no signing key")
    assert result.stderr == ""


@pytest.mark.parametrize("command", ["check", "decode"])
def test_a_pasted_bearer_value_is_accepted_with_a_note(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with issuer.serve():
        token = issuer.mint()
        argv = check_argv(issuer, f"Bearer {token}") if command == "check" else ["decode", f"bearer {token}"]
        code, out, err = run(argv, capsys)
    assert code == 0, out + err
    assert "Bearer" in err and "prefix" in err
    assert "passes" in out if command == "check" else "NOT VERIFIED" in out


@pytest.mark.parametrize("sub", [None, *SUBCOMMANDS])
def test_no_help_shows_a_default_of_none(sub: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([sub, "--help"] if sub else ["--help"])
    out = capsys.readouterr().out
    assert "None" not in out, out


def test_version_prints_the_package_version() -> None:
    result = subprocess.run([sys.executable, "-m", "kinde_guard", "--version"], capture_output=True, text=True)
    expected = getattr(kinde_guard, "__version__", None) or metadata.version("kinde-guard")
    assert result.returncode == 0 and result.stdout == f"kinde-guard {expected}\n"
