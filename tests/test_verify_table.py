"""The negative (and positive) table of the security policy (docs/architecture.md, "Security policy"): mutation -> error class, status, error code.

Every row builds a real token signed by real RSA keys (or a forged one), and runs it through
``KindeGuard.authenticate`` exactly as an adapter would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard import (
    AuthError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidRequestError,
    InvalidSignatureError,
    KindeGuard,
    MalformedTokenError,
    MissingTokenError,
)
from kinde_guard.testing import OMIT, DevIssuer, FrozenClock, b64url, kid_for, sign_jws


@dataclass
class Ctx:
    issuer: DevIssuer
    other_key: rsa.RSAPrivateKey
    attacker: DevIssuer
    clock: FrozenClock


def _segments(token: str) -> list[str]:
    return token.split(".")


def _hs256_with(secret: bytes, ctx: Ctx) -> str:
    header = b64url(json.dumps({"alg": "HS256", "kid": ctx.issuer.kid, "typ": "JWT"}).encode())
    payload = _segments(ctx.issuer.mint())[1]
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{b64url(hmac.new(secret, signing_input, hashlib.sha256).digest())}"


def _public_pem(ctx: Ctx) -> bytes:
    return ctx.issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _raw(header: dict[str, object], payload: bytes, ctx: Ctx) -> str:
    """Sign raw payload bytes (e.g. JSON with duplicate keys) with the issuer's real key."""
    return sign_jws(header, payload, ctx.issuer.private_key)


def _unsigned(alg: object, ctx: Ctx, signature: str = "") -> str:
    header = {"kid": ctx.issuer.kid, "typ": "JWT"} if alg is OMIT else {"alg": alg, "kid": ctx.issuer.kid}
    payload = _segments(ctx.issuer.mint())[1]
    return f"{b64url(json.dumps(header).encode())}.{payload}.{signature}"


def _with_segment(index: int, segment: str) -> Callable[[Ctx], str]:
    def build(ctx: Ctx) -> str:
        parts = _segments(ctx.issuer.mint())
        parts[index] = segment
        return "Bearer " + ".".join(parts)

    return build


def bearer(make: Callable[[Ctx], str]) -> Callable[[Ctx], str]:
    return lambda ctx: "Bearer " + make(ctx)


NEGATIVE: list[tuple[str, Callable[[Ctx], str | None], type[AuthError], int, str | None]] = [
    # step 1: the Authorization header
    ("no header", lambda c: None, MissingTokenError, 401, None),
    ("empty header", lambda c: "", MissingTokenError, 401, None),
    ("garbage header", lambda c: "garbage", MissingTokenError, 401, None),
    ("basic scheme", lambda c: "Basic dXNlcjpwYXNz", MissingTokenError, 401, None),
    ("bearer without token", lambda c: "Bearer", InvalidRequestError, 400, "invalid_request"),
    ("bearer with blank token", lambda c: "Bearer    ", InvalidRequestError, 400, "invalid_request"),
    ("two tokens", lambda c: "Bearer a.b.c d.e.f", InvalidRequestError, 400, "invalid_request"),
    ("characters outside b64token", lambda c: "Bearer a.b.c!", InvalidRequestError, 400, "invalid_request"),
    ("non-ASCII in header", lambda c: "Bearer ä.b.c", InvalidRequestError, 400, "invalid_request"),
    # step 2: size and shape
    (
        "two segments",
        bearer(lambda c: ".".join(_segments(c.issuer.mint())[:2])),
        MalformedTokenError,
        401,
        "invalid_token",
    ),
    ("four segments", bearer(lambda c: c.issuer.mint() + ".abc"), MalformedTokenError, 401, "invalid_token"),
    ("not base64url (+ and /)", _with_segment(0, "eyJh+GciOiJ/"), MalformedTokenError, 401, "invalid_token"),
    ("header not UTF-8", _with_segment(0, b64url(b"\xff\xfe\xfd")), MalformedTokenError, 401, "invalid_token"),
    ("header not JSON", _with_segment(0, b64url(b"hello")), MalformedTokenError, 401, "invalid_token"),
    ("header a JSON array", _with_segment(0, b64url(b"[1,2]")), MalformedTokenError, 401, "invalid_token"),
    ("header length 1 mod 4", _with_segment(0, "abcde"), MalformedTokenError, 401, "invalid_token"),
    (
        "duplicate header keys",
        bearer(
            lambda c: _raw({"alg": "RS256", "kid": c.issuer.kid}, b"{}", c).replace(
                _segments(_raw({"alg": "RS256", "kid": c.issuer.kid}, b"{}", c))[0],
                b64url(f'{{"alg":"RS256","alg":"none","kid":"{c.issuer.kid}"}}'.encode()),
            )
        ),
        MalformedTokenError,
        401,
        "invalid_token",
    ),
    (
        "duplicate payload keys (signed)",
        bearer(
            lambda c: _raw(
                {"alg": "RS256", "kid": c.issuer.kid},
                json.dumps({"iss": c.issuer.issuer, "exp": c.clock() + 60, "aud": ["x"]})[:-1].encode()
                + b', "aud": '
                + json.dumps(c.issuer.audience).encode()
                + b"}",
                c,
            )
        ),
        MalformedTokenError,
        401,
        "invalid_token",
    ),
    (
        "payload NaN (signed)",
        bearer(lambda c: _raw({"alg": "RS256", "kid": c.issuer.kid}, b'{"exp": NaN}', c)),
        MalformedTokenError,
        401,
        "invalid_token",
    ),
    (
        "payload with trailing data (signed)",
        bearer(
            lambda c: _raw(
                {"alg": "RS256", "kid": c.issuer.kid},
                json.dumps({"iss": c.issuer.issuer, "aud": c.issuer.audience, "exp": c.clock() + 60}).encode() + b" {}",
                c,
            )
        ),
        MalformedTokenError,
        401,
        "invalid_token",
    ),
    ("oversized token", bearer(lambda c: c.issuer.mint(padding="x" * 9000)), MalformedTokenError, 401, "invalid_token"),
    # step 3: algorithm and key selection
    ("alg none, no signature", bearer(lambda c: _unsigned("none", c)), MalformedTokenError, 401, "invalid_token"),
    (
        "alg none with a signature",
        bearer(lambda c: _unsigned("none", c, "c2ln")),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    ("alg None", bearer(lambda c: _unsigned("None", c, "c2ln")), InvalidSignatureError, 401, "invalid_token"),
    ("alg NONE", bearer(lambda c: _unsigned("NONE", c, "c2ln")), InvalidSignatureError, 401, "invalid_token"),
    ("alg null", bearer(lambda c: _unsigned(None, c, "c2ln")), InvalidSignatureError, 401, "invalid_token"),
    ("alg missing", bearer(lambda c: _unsigned(OMIT, c, "c2ln")), InvalidSignatureError, 401, "invalid_token"),
    (
        "alg RS512 not configured",
        bearer(lambda c: c.issuer.mint(headers={"alg": "RS512"})),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "HS256 keyed with the public PEM",
        bearer(lambda c: _hs256_with(_public_pem(c), c)),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "HS256 keyed with the public JWK",
        bearer(lambda c: _hs256_with(json.dumps(c.issuer.jwks()["keys"][0]).encode(), c)),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "kid missing",
        bearer(lambda c: c.issuer.mint(headers={"kid": OMIT})),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "kid not a string",
        bearer(lambda c: c.issuer.mint(headers={"kid": 7})),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "kid unknown",
        bearer(lambda c: c.issuer.mint(headers={"kid": "unknown"})),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "crit header",
        bearer(lambda c: c.issuer.mint(headers={"crit": ["exp"]})),
        MalformedTokenError,
        401,
        "invalid_token",
    ),
    # step 4: the signature
    (
        "signature stripped",
        bearer(lambda c: c.issuer.mint().rsplit(".", 1)[0] + "."),
        MalformedTokenError,
        401,
        "invalid_token",
    ),
    ("signature truncated", bearer(lambda c: c.issuer.mint()[:-12]), InvalidSignatureError, 401, "invalid_token"),
    (
        "signature of other bytes",
        bearer(lambda c: ".".join([*_segments(c.issuer.mint())[:2], _segments(c.issuer.mint(sub="kp_x"))[2]])),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "other key, same kid",
        bearer(lambda c: c.issuer.mint(key=c.other_key)),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    (
        "payload altered after signing",
        bearer(
            lambda c: ".".join(
                [
                    _segments(c.issuer.mint())[0],
                    _segments(c.issuer.mint(scp=["admin"]))[1],
                    _segments(c.issuer.mint())[2],
                ]
            )
        ),
        InvalidSignatureError,
        401,
        "invalid_token",
    ),
    # step 5: claims
    (
        "iss wrong",
        bearer(lambda c: c.issuer.mint(iss="https://evil.kinde.com")),
        InvalidIssuerError,
        401,
        "invalid_token",
    ),
    (
        "iss with trailing slash",
        bearer(lambda c: c.issuer.mint(iss=c.issuer.issuer + "/")),
        InvalidIssuerError,
        401,
        "invalid_token",
    ),
    ("iss missing", bearer(lambda c: c.issuer.mint(iss=OMIT)), InvalidIssuerError, 401, "invalid_token"),
    (
        "iss not a string",
        bearer(lambda c: c.issuer.mint(iss=[c.issuer.issuer])),
        InvalidIssuerError,
        401,
        "invalid_token",
    ),
    (
        "aud wrong",
        bearer(lambda c: c.issuer.mint(aud=["https://other.example.com"])),
        InvalidAudienceError,
        401,
        "invalid_token",
    ),
    ("aud empty list", bearer(lambda c: c.issuer.mint(aud=[])), InvalidAudienceError, 401, "invalid_token"),
    ("aud missing", bearer(lambda c: c.issuer.mint(aud=OMIT)), InvalidAudienceError, 401, "invalid_token"),
    (
        "aud non-matching string",
        bearer(lambda c: c.issuer.mint(aud="https://other.example.com")),
        InvalidAudienceError,
        401,
        "invalid_token",
    ),
    (
        "aud list with a number",
        bearer(lambda c: c.issuer.mint(aud=[c.issuer.audience[0], 3])),
        InvalidAudienceError,
        401,
        "invalid_token",
    ),
    ("exp missing", bearer(lambda c: c.issuer.mint(exp=OMIT)), InvalidClaimError, 401, "invalid_token"),
    ("exp past", bearer(lambda c: c.issuer.mint(exp=int(c.clock()) - 61)), ExpiredTokenError, 401, "invalid_token"),
    (
        "exp a string",
        bearer(lambda c: c.issuer.mint(exp=str(int(c.clock()) + 3600))),
        InvalidClaimError,
        401,
        "invalid_token",
    ),
    ("exp a bool", bearer(lambda c: c.issuer.mint(exp=True)), InvalidClaimError, 401, "invalid_token"),
    ("exp null", bearer(lambda c: c.issuer.mint(exp=None)), InvalidClaimError, 401, "invalid_token"),
    (
        "exp infinite (1e400)",
        bearer(
            lambda c: _raw(
                {"alg": "RS256", "kid": c.issuer.kid},
                json.dumps({"iss": c.issuer.issuer, "aud": c.issuer.audience})[:-1].encode() + b', "exp": 1e400}',
                c,
            )
        ),
        InvalidClaimError,
        401,
        "invalid_token",
    ),
    ("exp a 400-digit integer", bearer(lambda c: c.issuer.mint(exp=10**400)), InvalidClaimError, 401, "invalid_token"),
    ("nbf future", bearer(lambda c: c.issuer.mint(nbf=int(c.clock()) + 120)), InvalidClaimError, 401, "invalid_token"),
    ("nbf a string", bearer(lambda c: c.issuer.mint(nbf="0")), InvalidClaimError, 401, "invalid_token"),
    (
        "iat far future",
        bearer(lambda c: c.issuer.mint(iat=int(c.clock()) + 3600)),
        InvalidClaimError,
        401,
        "invalid_token",
    ),
    (
        "ID token as access token",
        bearer(lambda c: c.issuer.mint_id_token()),
        InvalidAudienceError,
        401,
        "invalid_token",
    ),
    # step 6: authorization (scopes asked for by the call below: read:orders)
    (
        "scope missing",
        bearer(lambda c: c.issuer.mint(scopes=["openid"])),
        InsufficientScopeError,
        403,
        "insufficient_scope",
    ),
    (
        "scope only in permissions",
        bearer(lambda c: c.issuer.mint(scopes=["openid"], permissions=["read:orders"])),
        InsufficientScopeError,
        403,
        "insufficient_scope",
    ),
]

POSITIVE: list[tuple[str, Callable[[Ctx], str]]] = [
    ("a Kinde user access token", lambda c: c.issuer.mint(scopes=["read:orders"])),
    ("typ at+jwt (RFC 9068)", lambda c: c.issuer.mint(scopes=["read:orders"], headers={"typ": "at+jwt"})),
    ("no typ", lambda c: c.issuer.mint(scopes=["read:orders"], headers={"typ": OMIT})),
    ("aud a string equal to the audience", lambda c: c.issuer.mint(scopes=["read:orders"], aud=c.issuer.audience[0])),
    ("aud among several", lambda c: c.issuer.mint(scopes=["read:orders"], aud=["x", c.issuer.audience[0]])),
    ("expired within leeway", lambda c: c.issuer.mint(scopes=["read:orders"], exp=int(c.clock()) - 30)),
    ("nbf within leeway", lambda c: c.issuer.mint(scopes=["read:orders"], nbf=int(c.clock()) + 30)),
    ("M2M without sub, scope string only", lambda c: c.issuer.mint_m2m(scp=[], scope="read:orders")),
    ("M2M with scp", lambda c: c.issuer.mint_m2m(scopes=["read:orders"])),
    (
        "jku/x5u/jwk/x5c headers are ignored",
        lambda c: c.issuer.mint(
            scopes=["read:orders"],
            headers={
                "jku": c.attacker.url + "/.well-known/jwks",
                "x5u": c.attacker.url,
                "jwk": c.attacker.jwks()["keys"][0],
                "x5c": ["AAAA"],
            },
        ),
    ),
]


@pytest.fixture
def ctx(issuer: DevIssuer, rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> Ctx:
    attacker = DevIssuer(key=rsa_keys[2], clock=clock).serve()
    try:
        yield Ctx(issuer=issuer, other_key=rsa_keys[1], attacker=attacker, clock=clock)  # type: ignore[misc]
    finally:
        attacker.stop()


@pytest.mark.parametrize(("name", "make", "error", "status", "code"), NEGATIVE, ids=[row[0] for row in NEGATIVE])
def test_refused(
    name: str, make: Callable[[Ctx], str | None], error: type[AuthError], status: int, code: str | None, ctx: Ctx
) -> None:
    guard = ctx.issuer.guard(clock=ctx.clock)
    header = make(ctx)
    with pytest.raises(AuthError) as info:
        guard.authenticate(header, scopes=["read:orders"])
    exc = info.value
    assert type(exc) is error, exc.description
    assert (exc.status_code, exc.error_code) == (status, code)
    challenge = exc.www_authenticate("api")
    if code is None:
        assert challenge == 'Bearer realm="api"'
    else:
        assert challenge.startswith(f'Bearer realm="api", error="{code}", error_description="')
        token = (header or "").partition(" ")[2]
        if len(token) > 20:
            assert token not in challenge and token not in exc.description
    assert ctx.attacker.jwks_fetches == 0


@pytest.mark.parametrize(("name", "make"), POSITIVE, ids=[row[0] for row in POSITIVE])
def test_accepted(name: str, make: Callable[[Ctx], str], ctx: Ctx) -> None:
    guard = ctx.issuer.guard(clock=ctx.clock)
    claims = guard.authenticate("Bearer " + make(ctx), scopes=["read:orders"])
    assert "read:orders" in claims.scopes
    assert claims.issuer == ctx.issuer.issuer
    assert ctx.attacker.jwks_fetches == 0


def test_attacker_key_with_jku_is_never_fetched(ctx: Ctx) -> None:
    """A token signed by the attacker, naming the attacker's JWKS in jku and their kid: refused."""
    guard = ctx.issuer.guard(clock=ctx.clock)
    token = ctx.attacker.mint(iss=ctx.issuer.issuer, headers={"jku": ctx.attacker.url + "/.well-known/jwks"})
    with pytest.raises(InvalidSignatureError):
        guard.verify(token)
    assert ctx.attacker.jwks_fetches == 0


def test_attacker_key_under_the_real_kid_is_refused(ctx: Ctx) -> None:
    guard = ctx.issuer.guard(clock=ctx.clock)
    token = ctx.attacker.mint(
        iss=ctx.issuer.issuer, headers={"kid": ctx.issuer.kid, "jwk": ctx.attacker.jwks()["keys"][0]}
    )
    with pytest.raises(InvalidSignatureError):
        guard.verify(token)


def test_m2m_claims_have_no_subject_and_scopes_from_both_claims(ctx: Ctx) -> None:
    guard = ctx.issuer.guard(clock=ctx.clock)
    claims = guard.verify(ctx.issuer.mint_m2m(scp=["a"], scope="b c"))
    assert claims.sub is None and claims.is_m2m
    assert claims.scopes == {"a", "b", "c"}


def test_kid_for_is_stable_and_kinde_shaped(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    kid = kid_for(rsa_keys[0])
    assert kid == kid_for(rsa_keys[0].public_key())
    assert len(kid.split(":")) == 16


def test_guard_built_from_options_equals_config(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = KindeGuard(domain=issuer.issuer, audience=issuer.audience, fetch=issuer.fetch, clock=clock)
    assert guard.verify(issuer.mint()).issuer == issuer.issuer
