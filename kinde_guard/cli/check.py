"""``kinde-guard decode`` (header and claims, not verified) and ``kinde-guard check`` (the real guard,
one line per check: key and signature, issuer, audience, lifetime, scopes, permissions, and the
route's roles, feature flags and organization when asked)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..claims import Claims, FlagValue
from ..config import GuardConfig
from ..errors import AuthError, JWKSError
from ..guard import KindeGuard
from ..jws import parse_payload, parse_token, verify_signature
from ..policy import CheckResult, Policy
from ..requirements import Requirements
from .token_helper import TokenHelperError

__all__ = [
    "Check",
    "check_api_key",
    "check_token",
    "decode_token",
    "human_duration",
    "parse_feature_flag",
    "render_decoded",
]

TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time", "updated_at")


def human_duration(seconds: float) -> str:
    """``90061`` → ``1 d 1 h``; ``3599`` → ``59 min``; ``42`` → ``42 s``."""
    s = int(abs(seconds))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{s} s"


def _relative(when: float, now: float) -> str:
    delta = when - now
    return f"in {human_duration(delta)}" if delta >= 0 else f"{human_duration(delta)} ago"


def decode_token(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT, without verifying anything."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise TokenHelperError("this is not a JWT: it should have three dot-separated parts.")
    decoded = []
    for segment, name in zip(parts[:2], ("header", "claims"), strict=True):
        try:
            doc = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        except (binascii.Error, ValueError):
            raise TokenHelperError(f"the token's {name} is not base64url-encoded JSON.") from None
        if not isinstance(doc, dict):
            raise TokenHelperError(f"the token's {name} is not a JSON object.")
        decoded.append(doc)
    return decoded[0], decoded[1]


def readable_times(claims: Mapping[str, Any], now: float) -> dict[str, str]:
    times = {}
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                stamp = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            except (OverflowError, OSError, ValueError):
                stamp = "out of range"
            times[name] = f"{stamp} ({_relative(value, now)})"
    return times


def render_decoded(token: str, *, as_json: bool, now: float | None = None) -> str:
    header, claims = decode_token(token)
    times = readable_times(claims, time.time() if now is None else now)
    if as_json:
        return json.dumps({"verified": False, "header": header, "claims": claims, "times": times}, indent=2)
    lines = [
        "NOT VERIFIED: decoded only. Run `kinde-guard check` to verify the signature and claims.",
        "Header:",
        json.dumps(header, indent=2),
        "Claims:",
        json.dumps(claims, indent=2),
    ]
    if times:
        lines.append("Times:")
        lines.extend(f"  {name:<10} {text}" for name, text in times.items())
    return "\n".join(lines)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "pass", "fail" or "skip"
    detail: str

    def line(self) -> str:
        return f"{self.status.upper():<4}  {self.name:<18} {self.detail}"


def parse_feature_flag(text: str) -> tuple[str, FlagValue]:
    """``--feature-flag CODE[=VALUE]``: ``beta`` (a boolean flag that is on), ``beta=false``,
    ``seats=5`` (an integer flag), ``plan=pro`` or ``plan="5"`` (a string flag).

    >>> parse_feature_flag("beta"), parse_feature_flag("seats=5"), parse_feature_flag('plan="5"')
    (('beta', True), ('seats', 5), ('plan', '5'))
    """
    code, has_value, raw = text.partition("=")
    code = code.strip()
    if not code:
        raise TokenHelperError(f"--feature-flag {text!r}: give a flag code, e.g. --feature-flag beta or plan=pro.")
    if not has_value:
        return code, True
    if raw in ("true", "false"):
        return code, raw == "true"
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return code, raw[1:-1]
    try:
        return code, int(raw)
    except ValueError:
        return code, raw


def check_token(
    token: str,
    config: GuardConfig,
    scopes: Sequence[str] = (),
    permissions: Sequence[str] = (),
    *,
    roles: Sequence[str] = (),
    feature_flags: Sequence[tuple[str, FlagValue]] = (),
    org_codes: Sequence[str] = (),
) -> tuple[bool, list[Check]]:
    """Run the real :class:`KindeGuard` on ``token``; explain each check. ``(passed, checks)``.

    A value that is not JWT-shaped and starts with an API-key prefix is checked as a Kinde API key
    (verified by Kinde with the M2M app of ``KINDE_M2M_CLIENT_ID`` / ``KINDE_M2M_CLIENT_SECRET``)."""
    needs = Requirements(
        scopes=scopes, permissions=permissions, roles=roles, feature_flags=dict(feature_flags), org_codes=org_codes
    )
    if token.count(".") != 2 and token.startswith(tuple(config.api_key_prefixes)):
        return check_api_key(token, config, needs)
    guard = KindeGuard(config)
    now = time.time()
    checks: list[Check] = []
    payload: dict[str, Any] | None = None
    try:
        algorithms = frozenset(config.algorithms)
        parsed = parse_token(token, config.max_token_bytes, {}, algorithms)
        verify_signature(parsed, guard.key_set.get_key(parsed.kid))
        payload = parse_payload(parsed)
        checks.append(Check("key and signature", "pass", f"{parsed.alg}, key {parsed.kid} from {config.jwks_uri}"))
    except AuthError as exc:
        checks.append(Check("key and signature", "fail", exc.description))
    except JWKSError as exc:
        checks.append(Check("key and signature", "fail", f"no signing key from {config.jwks_uri}: {exc.description}"))
    if payload is None:
        skipped = "skipped: the signature is not verified, so no claim can be trusted."
        checks.extend(Check(row, "skip", skipped) for row in ALWAYS_SHOWN)
    else:
        policy = Policy.from_config(config)
        results = policy.explain(payload, now, needs)
        checks.extend(_rows(policy, payload, now, results, needs))
    try:
        guard.verify(token, requirements=needs)
        verdict = True
    except (AuthError, JWKSError) as exc:
        verdict = False
        if all(c.status == "pass" for c in checks):  # refused for a reason the lines above do not cover
            checks.append(Check("other", "fail", exc.description))
    return verdict and all(c.status == "pass" for c in checks), checks


def check_api_key(key: str, config: GuardConfig, needs: Requirements) -> tuple[bool, list[Check]]:
    """The real guard on a Kinde API key: Kinde's verdict, then one row per requirement asked."""
    client_id = config.m2m_client_id or os.environ.get("KINDE_M2M_CLIENT_ID", "")
    secret = config.m2m_client_secret or os.environ.get("KINDE_M2M_CLIENT_SECRET", "")
    if not (client_id and secret):
        why = (
            "this is not a JWT but looks like a Kinde API key; to check it, set KINDE_M2M_CLIENT_ID and "
            "KINDE_M2M_CLIENT_SECRET (an M2M app authorised for the Kinde Management API with read:api_keys)."
        )
        return False, [Check("API key", "fail", why)]
    config = dataclasses.replace(config, api_keys=True, m2m_client_id=client_id, m2m_client_secret=secret)
    guard = KindeGuard(config)
    assert guard.api_keys is not None
    try:
        claims = guard.verify(key)
    except (AuthError, JWKSError) as exc:
        return False, [Check("API key", "fail", f"{exc.description} (asked {guard.api_keys.verify_url})")]
    owner = f"user {claims.sub}" if claims.sub else "organization key"
    org = f", org {claims.org_code}" if claims.org_code else ""
    checks = [Check("API key", "pass", f"{claims.key_id}, active ({owner}{org}), verified by Kinde")]
    granted = " ".join(sorted(claims.scopes)) or "none"
    rows = [
        ("scopes", Requirements(scopes=needs.scopes), f"has {' '.join(needs.scopes) or 'what is required'}"),
        ("permissions", Requirements(permissions=needs.permissions), "none required (an API key has none)"),
        ("roles", Requirements(roles=needs.roles), ""),
        ("feature flags", Requirements(feature_flags=dict(needs.feature_flags)), ""),
        ("organization", Requirements(org_codes=needs.org_codes), f"org_code {claims.org_code}"),
    ]
    for name, wanted, detail in rows:
        if name not in ("scopes", "permissions") and not wanted:
            continue
        try:
            guard.authorize(claims, requirements=wanted)
            checks.append(Check(name, "pass", f"{detail} (key scopes: {granted})" if name == "scopes" else detail))
        except AuthError as exc:
            checks.append(Check(name, "fail", exc.description))
    return all(c.status == "pass" for c in checks), checks


#: The table's row for each of Policy.explain's checks: exp, nbf and iat make one "lifetime" row,
#: the policy's own required scopes (permissions) and the command's make one "scopes" ("permissions") row.
ROWS = {
    "iss": "issuer",
    "aud": "audience",
    "exp": "lifetime",
    "nbf": "lifetime",
    "iat": "lifetime",
    "azp": "client",
    "org_code": "organization",
    "token_type": "token type",
    "required_scopes": "scopes",
    "required_permissions": "permissions",
    "scopes": "scopes",
    "permissions": "permissions",
    "roles": "roles",
    "feature_flags": "feature flags",
    "org_codes": "organization",
    "claims_check": "claims check",
}
#: Rows shown whatever happens; the others (options this command does not set) only when they fail.
ALWAYS_SHOWN = ("issuer", "audience", "lifetime", "scopes", "permissions")


def _rows(
    policy: Policy,
    payload: dict[str, Any],
    now: float,
    results: list[CheckResult],
    needs: Requirements,
) -> list[Check]:
    """One table row per group of :meth:`Policy.explain` results, with what the token says."""
    scopes, permissions = needs.scopes, needs.permissions
    claims = Claims.from_payload(payload)
    failures: dict[str, str] = {}
    for result in results:
        if not result.ok:
            failures.setdefault(ROWS.get(result.name, result.name), result.reason)
    wanted_scopes = (*policy.required_scopes, *scopes)
    wanted_permissions = (*policy.required_permissions, *permissions)
    granted_scopes = " ".join(sorted(claims.scopes)) or "none"
    granted_permissions = " ".join(sorted(claims.permissions)) or "none"
    raw_exp = payload.get("exp")
    exp = float(raw_exp) if isinstance(raw_exp, (int, float)) and not isinstance(raw_exp, bool) else None

    def has(wanted: Sequence[str], granted: str) -> str:
        return f"has {' '.join(wanted)}" if wanted else f"none required (token has: {granted})"

    passed = {
        "issuer": lambda: f"{payload.get('iss')}",
        "audience": lambda: f"aud {json.dumps(payload.get('aud'))} names this API",
        "lifetime": lambda: f"expires in {human_duration(exp - now)}" if exp is not None else "no expiry",
        "scopes": lambda: has(wanted_scopes, granted_scopes),
        "permissions": lambda: has(wanted_permissions, granted_permissions),
        "roles": lambda: f"has {' '.join(needs.roles)} (token roles: {' '.join(sorted(claims.role_keys))})",
        "feature flags": lambda: ", ".join(f"{c}={json.dumps(v)}" for c, v in needs.feature_flags),
        "organization": lambda: f"org_code {claims.org_code} is one of: {', '.join(needs.org_codes)}",
    }
    asked = {
        "roles": bool(needs.roles),
        "feature flags": bool(needs.feature_flags),
        "organization": bool(needs.org_codes),
    }
    hints = {
        "issuer": lambda: (
            f"Token iss: {json.dumps(payload.get('iss'))}; accepted: {json.dumps(sorted(policy.issuers))}."
        ),
        "audience": lambda: (
            f"Token aud: {json.dumps(payload.get('aud'))}; expected one of: {json.dumps(sorted(policy.audiences))}."
        ),
        "lifetime": lambda: f"(expired {_relative(exp, now)})" if exp is not None and exp < now else "",
        "scopes": lambda: f"Token has: {granted_scopes}.",
        "permissions": lambda: f"Token has: {granted_permissions}.",
    }
    rows = [*dict.fromkeys(ROWS.get(r.name, r.name) for r in results)]
    checks = []
    for row in rows:
        if row in failures:
            hint = hints[row]() if row in hints else ""
            checks.append(Check(row, "fail", f"{failures[row]} {hint}".strip()))
        elif row in ALWAYS_SHOWN or asked.get(row):
            checks.append(Check(row, "pass", passed[row]()))
    return checks
