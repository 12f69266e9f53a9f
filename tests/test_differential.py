"""Differential test: kinde_guard's own verifier and strict PyJWT reach the same verdict on a large
generated corpus of valid and mutated tokens, except where kinde_guard is documented as stricter.

kinde_guard verifies without ``jwt.decode`` (for speed); this keeps it honest against the reference.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from kinde_guard import AuthError, KindeGuard
from kinde_guard.testing import OMIT, DevIssuer, FrozenClock, b64url, generate_rsa_key, sign_jws

AUDIENCE = "https://api.example.com"


def pyjwt_verdict(token: str, issuer: DevIssuer, now: float) -> bool:
    """Strict PyJWT: RS256 only, the key by kid from the JWKS, iss, aud, exp required, leeway 60."""
    try:
        header = jwt.get_unverified_header(token)
        keys = {k["kid"]: k for k in issuer.jwks()["keys"]}
        key = jwt.PyJWK(keys[header["kid"]]).key
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=issuer.issuer,
            leeway=60,
            options={"require": ["exp", "iss", "aud"], "verify_iat": True},
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return False
    # The route's rule, which PyJWT leaves to the caller: scope read:orders in scp or scope.
    granted = set(claims.get("scp") or []) | set(str(claims.get("scope") or "").split())
    return "read:orders" in granted


def ours_verdict(guard: KindeGuard, token: str) -> bool:
    try:
        guard.verify(token, scopes=["read:orders"])
    except AuthError:
        return False
    return True


#: Where kinde_guard refuses what PyJWT accepts, on purpose (README, "Security model").
def documented_stricter(token: str) -> str | None:
    header_seg, payload_seg = token.split(".")[:2]
    header = json.loads(jwt.utils.base64url_decode(header_seg))
    raw = jwt.utils.base64url_decode(payload_seg).decode()
    payload = json.loads(raw)
    if "kid" not in header:
        return None
    if len(json.loads(raw, object_pairs_hook=lambda pairs: pairs)) != len(payload):
        return "duplicate member names are refused (RFC 8725 §3.10)"
    if "crit" in header:
        return "crit extensions are refused"
    if payload.get("aud") == []:
        return "an empty aud never matches"
    for name in ("exp", "nbf", "iat"):
        value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
            return "NumericDates beyond ±2**53 are refused"
        if isinstance(value, str):
            return "a NumericDate must be a JSON number, not a numeric string (PyJWT takes int(value))"
    return None


def offset() -> int:
    """Seconds away from a limit, but not within 10 s of the 60 s leeway: PyJWT reads the real
    clock, kinde_guard the test's frozen one, and they drift apart by the test's running time."""
    return random.choice([random.randint(0, 50), random.randint(70, 200)])


def mutations(issuer: DevIssuer, now: int, other_key: Any) -> list[Callable[[], str]]:
    read = ["openid", "read:orders"]
    return [
        lambda: issuer.mint(scopes=read),
        lambda: issuer.mint(scopes=["openid"]),
        lambda: issuer.mint_m2m(scopes=["read:orders"]),
        lambda: issuer.mint_m2m(scp=[], scope="read:orders write:orders"),
        lambda: issuer.mint(scopes=read, exp=now - offset()),
        lambda: issuer.mint(scopes=read, exp=OMIT),
        lambda: issuer.mint(scopes=read, exp=str(now + 100)),
        lambda: issuer.mint(scopes=read, nbf=now + offset()),
        lambda: issuer.mint(scopes=read, iat=now + offset()),
        lambda: issuer.mint(scopes=read, iat=OMIT),
        lambda: issuer.mint(scopes=read, aud=random.choice([AUDIENCE, [AUDIENCE, "x"], ["x"], [], "x"])),
        lambda: issuer.mint(scopes=read, aud=OMIT),
        lambda: issuer.mint(scopes=read, iss=random.choice([issuer.issuer + "/", "https://evil.kinde.com", OMIT])),
        lambda: issuer.mint(scopes=read, headers={"typ": random.choice(["at+jwt", OMIT, "JWT"])}),
        lambda: issuer.mint(scopes=read, headers={"kid": OMIT}),
        lambda: issuer.mint(scopes=read, headers={"kid": "unknown"}),
        lambda: issuer.mint(scopes=read, key=other_key),
        lambda: issuer.mint(scopes=read, headers={"alg": "RS512"}),
        lambda: issuer.mint(scopes=read, headers={"crit": ["exp"]}),
        lambda: issuer.mint(scopes=read, exp=2**60),
        lambda: issuer.mint(scopes=read)[: -random.randint(1, 20)],
        lambda: flip(issuer.mint(scopes=read)),
        lambda: sign_jws(
            {"alg": "RS256", "kid": issuer.kid},
            f'{{"iss":"{issuer.issuer}","aud":["x"],"exp":{now + 99},"scp":["read:orders"],"aud":["{AUDIENCE}"]}}'.encode(),
            issuer.private_key,
        ),
        lambda: (
            f"{b64url(json.dumps({'alg': 'none', 'kid': issuer.kid}).encode())}.{issuer.mint(scopes=read).split('.')[1]}."
        ),
    ]


def flip(token: str) -> str:
    position = random.randrange(len(token))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:position] + random.choice(alphabet) + token[position + 1 :]


@pytest.mark.timeout(300)
def test_kinde_guard_and_strict_pyjwt_agree_on_a_generated_corpus() -> None:
    random.seed(20261128)
    clock = FrozenClock()
    issuer = DevIssuer(audience=AUDIENCE, key=generate_rsa_key(), clock=clock)
    guard = issuer.guard(clock=clock, token_cache_size=0)
    makers = mutations(issuer, int(clock()), generate_rsa_key())
    agreed = stricter = accepted = 0
    for _ in range(2500):
        token = random.choice(makers)()
        ours, theirs = ours_verdict(guard, token), pyjwt_verdict(token, issuer, clock())
        accepted += ours
        if ours == theirs:
            agreed += 1
            continue
        reason = None
        with contextlib.suppress(ValueError):
            reason = documented_stricter(token)
        assert not ours and theirs and reason, f"verdicts differ (ours={ours}, PyJWT={theirs}) for a token: {reason}"
        stricter += 1
    assert accepted > 200 and agreed > 2000 and stricter > 0, (accepted, agreed, stricter)
