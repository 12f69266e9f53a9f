"""`kinde-guard check <API key>`: Kinde's verdict and one PASS/FAIL line per requirement, through
cli.main against the dev issuer over HTTP; the key never appears in the output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kinde_guard.cli import main
from kinde_guard.testing import DEFAULT_AUDIENCE, DevIssuer


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[DevIssuer]:
    with DevIssuer().serve() as issuer:
        monkeypatch.setenv("KINDE_M2M_CLIENT_ID", issuer.m2m_client_id)
        monkeypatch.setenv("KINDE_M2M_CLIENT_SECRET", issuer.m2m_client_secret)
        yield issuer


def check(issuer: DevIssuer, key: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["check", key, "--domain", issuer.url, "--audience", DEFAULT_AUDIENCE, *extra])
    out, _ = capsys.readouterr()
    assert key not in out and issuer.m2m_client_secret not in out
    return code, out


def test_a_valid_key_passes_each_check(issuer: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    key = issuer.create_api_key(scopes=["read:orders"], org_code="org_acme")
    code, out = check(issuer, key, capsys, "--scope", "read:orders", "--org", "org_acme")
    assert code == 0, out
    assert "PASS  API key" in out and "organization key, org org_acme" in out
    assert "PASS  scopes" in out and "PASS  organization" in out


def test_a_missing_scope_and_a_role_fail(issuer: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    key = issuer.create_api_key(scopes=["read:orders"], user_id="kp_jane")
    code, out = check(issuer, key, capsys, "--scope", "write:orders", "--role", "admin")
    assert code == 1 and "PASS  API key" in out and "user kp_jane" in out
    assert "FAIL  scopes" in out and "write:orders" in out and "FAIL  roles" in out


def test_a_revoked_key_fails(issuer: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    key = issuer.create_api_key(status="revoked")
    code, out = check(issuer, key, capsys)
    assert code == 1 and "FAIL  API key" in out and "The API key is revoked." in out


def test_without_m2m_credentials_it_says_what_to_set(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KINDE_M2M_CLIENT_ID")
    code, out = check(issuer, issuer.create_api_key(), capsys)
    assert code == 1 and "KINDE_M2M_CLIENT_ID" in out and issuer.api_key_verifications == 0
