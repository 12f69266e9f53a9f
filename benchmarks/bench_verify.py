"""In-process verification speed: kinde_guard beside the raw RSA verify floor and its peers.

    .venv/bin/python benchmarks/bench_verify.py [--tokens 1000] [--rounds 15]

Every row does the same checks (signature, iss, aud list, exp, scopes) over the same distinct,
Kinde-shaped tokens; rows run interleaved in one process and are reported as the median time per
token and as a ratio to the raw ``cryptography`` RSA verify measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import Row, dump, kinde_corpus, machine, print_table, side_by_side

from kinde_guard.testing import DevIssuer

SCOPES = ["read:orders"]


def b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def build_rows(issuer: DevIssuer, tokens: list[str], peers: bool) -> tuple[list[Row], Row, Row]:
    public = issuer.private_key.public_key()
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    split = [t.rsplit(".", 1) for t in tokens]
    pairs = [(s[0].encode(), b64(s[1])) for s in split]
    aud, iss = issuer.audience, issuer.issuer

    def raw() -> int:
        for signing_input, signature in pairs:
            public.verify(signature, signing_input, pkcs1, sha256)
        return len(pairs)

    def raw_decode() -> int:
        for token in tokens:
            header, payload, signature = token.split(".")
            public.verify(b64(signature), f"{header}.{payload}".encode(), pkcs1, sha256)
            json.loads(b64(header))
            json.loads(b64(payload))
        return len(tokens)

    guard = issuer.guard(token_cache_size=0)
    guard.verify(tokens[0])  # keys loaded once, as in a running server

    def ours() -> int:
        verify = guard.verify
        for token in tokens:
            verify(token, scopes=SCOPES)
        return len(tokens)

    loop = asyncio.new_event_loop()

    async def ours_async_all() -> None:
        verify = guard.verify_async
        for token in tokens:
            await verify(token, scopes=SCOPES)

    def ours_async() -> int:
        loop.run_until_complete(ours_async_all())
        return len(tokens)

    base, floor = Row("raw RSA verify (cryptography)", raw, []), Row("floor: raw verify + decode once", raw_decode, [])
    rows = [
        base,
        floor,
        Row("kinde_guard verify (sync, cache off)", ours, []),
        Row("kinde_guard verify_async (cache off)", ours_async, []),
    ]
    if peers:
        rows += peer_rows(issuer, tokens, public, aud, iss)
    return rows, base, floor


def check_scopes(claims: dict[str, object]) -> None:
    granted = set(claims.get("scp") or []) | set(str(claims.get("scope") or "").split())  # type: ignore[arg-type]
    if not granted.issuperset(SCOPES):
        raise ValueError("scope")


def peer_rows(issuer: DevIssuer, tokens: list[str], public: object, aud: list[str], iss: str) -> list[Row]:
    import jwt as pyjwt
    from authlib.jose import JsonWebToken
    from jose import jwt as jose_jwt
    from joserfc import jwt as joserfc_jwt
    from joserfc.jwk import RSAKey

    def pyjwt_row() -> int:
        for token in tokens:
            check_scopes(pyjwt.decode(token, public, algorithms=["RS256"], audience=aud, issuer=iss))  # type: ignore[arg-type]
        return len(tokens)

    issuer.serve()
    jwks_client = pyjwt.PyJWKClient(issuer.url + "/.well-known/jwks", cache_keys=True)

    def pyjwk_client_row() -> int:
        for token in tokens:
            key = jwks_client.get_signing_key_from_jwt(token).key
            check_scopes(pyjwt.decode(token, key, algorithms=["RS256"], audience=aud, issuer=iss))
        return len(tokens)

    authlib_jwt = JsonWebToken(["RS256"])
    authlib_key = issuer.jwks()
    options = {
        "iss": {"essential": True, "value": iss},
        "aud": {"essential": True, "values": aud},
        "exp": {"essential": True},
    }

    def authlib_row() -> int:
        for token in tokens:
            claims = authlib_jwt.decode(token, authlib_key, claims_options=options)
            claims.validate(leeway=60)
            check_scopes(claims)
        return len(tokens)

    joserfc_key = RSAKey.import_key(issuer.jwks()["keys"][0])
    registry = joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": iss},
        aud={"essential": True, "values": aud},
        exp={"essential": True},
        leeway=60,
    )

    def joserfc_row() -> int:
        for token in tokens:
            decoded = joserfc_jwt.decode(token, joserfc_key, algorithms=["RS256"])
            registry.validate(decoded.claims)
            check_scopes(decoded.claims)
        return len(tokens)

    jose_key = issuer.jwks()["keys"][0]

    def jose_row() -> int:
        for token in tokens:
            check_scopes(jose_jwt.decode(token, jose_key, algorithms=["RS256"], audience=aud[0], issuer=iss))
        return len(tokens)

    return [
        Row(f"PyJWT {pyjwt.__version__} decode, preloaded key", pyjwt_row, []),
        Row("PyJWT + PyJWKClient", pyjwk_client_row, []),
        Row("authlib.jose", authlib_row, []),
        Row("joserfc", joserfc_row, []),
        Row("python-jose", jose_row, []),
    ]


def repeated_rows(issuer: DevIssuer, distinct: int, repeats: int) -> tuple[list[Row], Row]:
    tokens = kinde_corpus(issuer, distinct)
    workload = [t for _ in range(repeats) for t in tokens]
    public = issuer.private_key.public_key()
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    pairs = [(t.rsplit(".", 1)[0].encode(), b64(t.rsplit(".", 1)[1])) for t in tokens]

    def raw() -> int:
        for signing_input, signature in pairs:
            public.verify(signature, signing_input, pkcs1, sha256)
        return len(pairs)

    def cold() -> int:
        guard = issuer.guard()  # a new guard: the first sight of each token is a miss
        guard.key_set.refresh()
        verify = guard.verify
        for token in workload:
            verify(token, scopes=SCOPES)
        return len(workload)

    warm_guard = issuer.guard()
    for token in tokens:
        warm_guard.verify(token)

    def warm() -> int:
        verify = warm_guard.verify
        for token in workload:
            verify(token, scopes=SCOPES)
        return len(workload)

    base = Row("raw RSA verify (cryptography)", raw, [])
    rows = [
        base,
        Row(f"kinde_guard, cache on, cold ({distinct} tokens x {repeats})", cold, []),
        Row(f"kinde_guard, cache on, warm ({distinct} tokens x {repeats})", warm, []),
    ]
    return rows, base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1000, help="distinct tokens (default 1000)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--no-peers", action="store_true", help="skip the other libraries")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)

    issuer = DevIssuer()
    started = time.perf_counter()
    tokens = kinde_corpus(issuer, args.tokens)
    sizes = sorted(len(t) for t in tokens)
    print(
        f"machine: {machine()}; {args.tokens} tokens of {sizes[0]}-{sizes[-1]} bytes, minted in {time.perf_counter() - started:.1f} s"
    )
    try:
        rows, base, floor = build_rows(issuer, tokens, peers=not args.no_peers)
        side_by_side(rows, args.rounds)
        distinct = print_table(
            f"Distinct tokens, verified-token cache off ({args.rounds} rounds, medians)", rows, base, floor
        )
        rep_rows, rep_base = repeated_rows(issuer, max(1, min(50, args.tokens)), 20)
        side_by_side(rep_rows, args.rounds)
        repeated = print_table("Repeated tokens, cache on", rep_rows, rep_base)
    finally:
        issuer.stop()
    dump(args.json, {"machine": machine(), "distinct": distinct, "repeated": repeated})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
