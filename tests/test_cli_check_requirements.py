"""`kinde-guard check --role / --feature-flag CODE[=VALUE] / --org`: one PASS/FAIL line each, with
the guard's own reason, against a served issuer (in-process through cli.main)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard.cli import main
from kinde_guard.cli.check import parse_feature_flag
from kinde_guard.cli.token_helper import TokenHelperError
from kinde_guard.testing import DEFAULT_AUDIENCE, DevIssuer


@pytest.fixture
def issuer(rsa_keys: list[rsa.RSAPrivateKey]) -> DevIssuer:
    return DevIssuer(key=rsa_keys[0])


def check(issuer: DevIssuer, token: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, str]]:
    code = main(["check", token, "--domain", issuer.url, "--audience", DEFAULT_AUDIENCE, *extra])
    out, _ = capsys.readouterr()
    lines = {line[6:24].strip(): line for line in out.splitlines() if line[:4] in ("PASS", "FAIL", "SKIP")}
    return code, lines


CASES = [
    ("role met", {"roles": ["admin"]}, ["--role", "admin"], 0, {"roles": "PASS"}, "has admin"),
    ("role missing", {"roles": ["viewer"]}, ["--role", "admin"], 1, {"roles": "FAIL"}, "missing: admin"),
    ("roles claim absent", {}, ["--role", "admin"], 1, {"roles": "FAIL"}, "token customization"),
    (
        "flag on",
        {"feature_flags": {"beta": True}},
        ["--feature-flag", "beta"],
        0,
        {"feature flags": "PASS"},
        "beta=true",
    ),
    (
        "flag integer is not true",
        {"feature_flags": {"beta": {"t": "i", "v": 1}}},
        ["--feature-flag", "beta"],
        1,
        {"feature flags": "FAIL"},
        "an integer flag",
    ),
    (
        "flag values",
        {"feature_flags": {"plan": "pro", "seats": 5}},
        ["--feature-flag", "plan=pro", "--feature-flag", "seats=5"],
        0,
        {"feature flags": "PASS"},
        'plan="pro", seats=5',
    ),
    ("flags claim absent", {}, ["--feature-flag", "beta=false"], 1, {"feature flags": "FAIL"}, "feature_flags"),
    ("org met", {"org_code": "org_acme"}, ["--org", "org_acme org_beta"], 0, {"organization": "PASS"}, "org_acme"),
    ("org other", {"org_code": "org_x"}, ["--org", "org_acme"], 1, {"organization": "FAIL"}, '"org_x"'),
]


@pytest.mark.parametrize(("name", "claims", "options", "exit_code", "rows", "text"), CASES, ids=[c[0] for c in CASES])
def test_check_reports_roles_flags_and_organizations(
    issuer: DevIssuer,
    capsys: pytest.CaptureFixture[str],
    name: str,
    claims: dict[str, object],
    options: list[str],
    exit_code: int,
    rows: dict[str, str],
    text: str,
) -> None:
    with issuer.serve():
        token = issuer.mint(**claims)  # type: ignore[arg-type]
        code, lines = check(issuer, token, capsys, *options)
        assert (
            main(["check", token, "--domain", issuer.url, "--audience", DEFAULT_AUDIENCE, *options, "--json"]) == code
        )
        doc = json.loads(capsys.readouterr().out)
    assert code == exit_code, lines
    for row, status in rows.items():
        assert lines[row].startswith(status), lines
        assert text in lines[row]
    assert doc["ok"] is (exit_code == 0)


def test_rows_not_asked_for_are_not_shown_when_they_pass(issuer: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    with issuer.serve():
        code, lines = check(issuer, issuer.mint(roles=["admin"]), capsys)
    assert code == 0 and "roles" not in lines and "feature flags" not in lines


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("beta", ("beta", True)),
        ("beta=false", ("beta", False)),
        ("seats=5", ("seats", 5)),
        ("plan=pro", ("plan", "pro")),
        ('plan="5"', ("plan", "5")),
    ],
)
def test_feature_flag_values_are_typed_as_kinde_types_them(text: str, flag: tuple[str, object]) -> None:
    parsed = parse_feature_flag(text)
    assert parsed == flag and type(parsed[1]) is type(flag[1])


def test_a_feature_flag_without_a_code_is_a_clear_error() -> None:
    with pytest.raises(TokenHelperError, match="give a flag code"):
        parse_feature_flag("=true")
