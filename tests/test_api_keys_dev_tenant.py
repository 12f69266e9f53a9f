"""API keys in the dev issuer's tenant file: `kinde-guard dev-issuer --config FILE` verifies the keys
the file declares (scopes, org_code, user_id, status) for the Management API application the file
declares, so a guard runs with fixed credentials; the banner names both without a file's secrets;
bad entries fail with a sentence."""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kinde_guard import AuthError, ConfigurationError, KindeGuard
from kinde_guard.api_keys import ApiKeyUnavailableError
from kinde_guard.devserver import (
    DEFAULT_MANAGEMENT_CLIENT_ID,
    DEFAULT_MANAGEMENT_SECRET,
    DevAuthorizationServer,
    default_config_document,
    load_config,
    run,
)
from kinde_guard.devserver.config import parse_config

DEMO_USER = "kp_de700000000000000000000000000001"
FILE_SECRET = "file-secret-0123456789abcdef"
READER = "k_live_file_reader_0123456789"
WRITER = "k_live_file_writer_0123456789"
INACTIVE = "k_live_file_inactive_0123456789"
REVOKED = "k_live_file_revoked_0123456789"


def tenant(**top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "management_client": {"client_id": "acme-management", "client_secret": FILE_SECRET},
        "api_keys": [
            {"key": READER, "key_id": "api_key_reader", "scopes": ["read:orders"], "org_code": "org_dev"},
            {"key": WRITER, "scopes": ["read:orders", "write:orders"], "user_id": DEMO_USER, "org_code": "org_dev"},
            {"key": INACTIVE, "scopes": ["read:orders"], "org_code": "org_dev", "status": "inactive"},
            {"key": REVOKED, "scopes": ["read:orders"], "org_code": "org_dev", "status": "revoked"},
        ],
    }
    return {**doc, **top}


@contextlib.contextmanager
def dev_issuer_command(tmp_path: Path, doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """`kinde-guard dev-issuer --config FILE` (its run()) on a free port in a thread: (url, banner)."""
    config = tmp_path / "tenant.json"
    config.write_text(json.dumps(doc))
    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(target=run, args=(0, config, tmp_path / "keys"), kwargs={"out": out, "stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not ("Try:" in out.getvalue() and out.getvalue().endswith("\n")):
            assert thread.is_alive() and time.monotonic() < deadline, out.getvalue()
            time.sleep(0.02)
        found = re.search(r"issuer +(http://127\.0\.0\.1:\d+)", out.getvalue())
        assert found is not None, out.getvalue()
        yield found.group(1), out.getvalue()
    finally:
        stop.set()
        thread.join(timeout=10)


def guard_with(url: str, client_id: str, secret: str) -> KindeGuard:
    return KindeGuard(
        domain=url,
        audience="https://api.example.com",
        api_keys=True,
        m2m_client_id=client_id,
        m2m_client_secret=secret,
        http_timeout=5,
    )


def test_the_tenant_files_keys_verify_with_its_fixed_management_credentials(tmp_path: Path) -> None:
    with dev_issuer_command(tmp_path, tenant()) as (url, _):
        guard = guard_with(url, "acme-management", FILE_SECRET)
        reader = guard.authenticate("Bearer " + READER, scopes=["read:orders"])
        assert (reader.credential, reader.key_id, reader.sub, reader.org_code) == (
            "api_key",
            "api_key_reader",
            None,
            "org_dev",
        )
        assert set(reader.scopes) == {"read:orders"}
        with pytest.raises(AuthError) as missing:
            guard.authenticate("Bearer " + READER, scopes=["write:orders"])
        assert missing.value.status_code == 403 and missing.value.error_code == "insufficient_scope"
        writer = guard.authenticate("Bearer " + WRITER, scopes=["write:orders"])
        assert writer.sub == DEMO_USER and writer.key_id and writer.key_id.startswith("api_key_")
        for refused, said in ((INACTIVE, "inactive"), (REVOKED, "revoked"), ("k_live_not_in_the_file", "")):
            with pytest.raises(AuthError) as caught:
                guard.authenticate("Bearer " + refused)
            assert caught.value.status_code == 401 and caught.value.error_code == "invalid_token"
            assert said in caught.value.description
        # The same keys with the wrong secret: Kinde (here the dev issuer) refuses the M2M app: 503.
        with pytest.raises(ApiKeyUnavailableError) as unavailable:
            guard_with(url, "acme-management", "wrong-secret").authenticate("Bearer " + READER)
        assert "HTTP 401 (invalid_client)" in str(unavailable.value)


def test_a_management_client_without_read_api_keys_gets_scope_missing(tmp_path: Path) -> None:
    management = {"client_id": "acme-management", "client_secret": FILE_SECRET, "scopes": []}
    with dev_issuer_command(tmp_path, tenant(management_client=management)) as (url, _):
        guard = guard_with(url, "acme-management", FILE_SECRET)
        with pytest.raises(ApiKeyUnavailableError) as caught:
            guard.authenticate("Bearer " + READER)
    assert "(HTTP 403): the M2M application needs the scope read:api_keys" in str(caught.value)


def test_the_built_in_tenant_has_published_management_credentials_and_keys() -> None:
    with DevAuthorizationServer(load_config()).serve() as server:
        guard = guard_with(server.url, DEFAULT_MANAGEMENT_CLIENT_ID, DEFAULT_MANAGEMENT_SECRET)
        assert guard.authenticate("Bearer k_live_dev_org_reader", scopes=["read:orders"]).org_code == "org_dev"
        assert guard.authenticate("Bearer k_live_dev_user_writer", scopes=["write:orders"]).sub == DEMO_USER
        with pytest.raises(AuthError) as caught:
            guard.authenticate("Bearer k_live_dev_revoked")
        assert caught.value.status_code == 401
    # A tenant file naming "api_keys": [] has none; its management_client stays the built-in one.
    assert parse_config({"api_keys": []}).api_keys.keys == ()
    assert parse_config({"api_keys": []}).api_keys.management.client_id == DEFAULT_MANAGEMENT_CLIENT_ID


def test_the_banner_names_the_management_app_and_keys_without_a_files_secrets(tmp_path: Path) -> None:
    with dev_issuer_command(tmp_path, tenant()) as (url, banner):
        pass
    assert f"  management acme-management (m2m, Kinde Management API {url}/api)  scopes: read:api_keys" in banner
    assert "  api key    k_live_fil…  api_key_reader (active)  org org_dev  scopes: read:orders\n" in banner
    assert "(revoked)  org org_dev" in banner and "(inactive)" in banner and f"user {DEMO_USER}" in banner
    assert "Guard:  KINDE_API_KEYS=true KINDE_M2M_CLIENT_ID=acme-management KINDE_M2M_CLIENT_SECRET='<its secret>'" in (
        banner
    )
    for secret in (FILE_SECRET, READER, WRITER, INACTIVE, REVOKED):
        assert secret not in banner
    # The built-in tenant's published values are shown whole, as they are usable as they stand.
    with dev_issuer_command(tmp_path, {}) as (_, built_in):
        pass
    assert f"KINDE_M2M_CLIENT_SECRET={DEFAULT_MANAGEMENT_SECRET}" in built_in
    assert "  api key    k_live_dev_org_reader  api_key_dev_org_reader (active)" in built_in


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"api_keys": [{"scopes": []}]}, "api_keys[0].key is required."),
        ({"api_keys": [{"key": "a.b.c"}]}, "api_keys[0].key may hold letters, digits and _-~+/ only"),
        ({"api_keys": [{"key": "k_x", "org_code": "org_nope"}]}, "api_keys[0].org_code 'org_nope' is not in"),
        ({"api_keys": [{"key": "k_x", "user_id": "kp_nobody"}]}, "api_keys[0].user_id 'kp_nobody' is not the id"),
        ({"api_keys": [{"key": "k_x", "status": "paused"}]}, "api_keys[0].status must be one of active, inactive"),
        ({"api_keys": [{"key": "k_x", "scopes": "read"}]}, "api_keys[0].scopes must be a list of scopes"),
        ({"api_keys": [{"key": "k_x"}, {"key": "k_x"}]}, "api_keys[1].key is the same as an earlier key's."),
        ({"api_keys": [{"key": "k_x", "key_id": "a"}, {"key": "k_y", "key_id": "a"}]}, "api_keys[1].key_id is"),
        ({"api_keys": {}}, "api_keys must be a list of keys."),
        ({"management_client": {"client_id": "m"}}, "management_client.client_secret is required."),
        ({"management_client": []}, "management_client must be a JSON object."),
        (
            {"management_client": {"client_id": "kinde-guard-dev-m2m", "client_secret": "s"}},
            "management_client.client_id 'kinde-guard-dev-m2m' is also in 'clients'",
        ),
    ],
)
def test_bad_api_key_entries_fail_with_a_sentence(change: dict[str, Any], sentence: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config(change)
    assert str(caught.value).startswith(sentence), str(caught.value)


def test_the_built_in_document_round_trips() -> None:
    doc = default_config_document()
    assert parse_config(doc).api_keys == parse_config({}).api_keys
    assert [k["key_id"] for k in doc["api_keys"]] == [
        "api_key_dev_org_reader",
        "api_key_dev_user_writer",
        "api_key_dev_revoked",
    ]
    assert "k_live_dev_org_reader" not in repr(parse_config(doc).api_keys)  # keys stay out of reprs


def test_a_file_replacing_the_users_keeps_only_the_built_in_keys_it_still_owns() -> None:
    # The built-in user key belongs to the built-in demo user; a file with users of its own keeps
    # the organization keys and leaves that one out, instead of failing on a key it never named.
    config = parse_config({"users": [{"email": "solo@example.com"}]})
    assert [k.key_id for k in config.api_keys.keys] == ["api_key_dev_org_reader", "api_key_dev_revoked"]
    assert parse_config({"organizations": [{"code": "org_other"}], "users": []}).api_keys.keys == ()
    # Keys the file names itself are checked strictly.
    with pytest.raises(ConfigurationError, match="user_id"):
        parse_config({"users": [], "api_keys": [{"key": "k_x", "user_id": DEMO_USER}]})
    # The same with the built-in document copied and edited, as tests of the tenant file do.
    doc = {**default_config_document(), "organizations": [{"code": "org_a"}], "users": []}
    assert parse_config(doc).api_keys.keys == ()
