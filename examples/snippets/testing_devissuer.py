"""README snippet: kinde_guard.testing (tests/test_readme.py runs it)."""

from __future__ import annotations

from kinde_guard.testing import OMIT, DevIssuer, FrozenClock


def tour() -> None:
    clock = FrozenClock()
    with DevIssuer(audience="https://api.example.com", clock=clock).serve() as issuer:  # 127.0.0.1, free port
        guard = issuer.guard()  # KindeGuard(domain=issuer.url, audience=..., clock=clock)
        token = issuer.mint(scopes=["read:orders"], permissions=["delete:orders"])
        guard.verify(token, scopes=["read:orders"])

        issuer.mint_m2m(scopes=["read:orders"])  # gty, scope and scp, no sub
        issuer.mint_id_token()  # aud = [client id, issuer]: never an access token
        issuer.mint(exp=OMIT, aud=[], headers={"kid": "other"})  # override or remove any claim/header
        clock.advance(3600 + 61)  # the token above has expired now
        issuer.rotate()  # sign with a new key from now on
        issuer.jwks_status = 500  # make the JWKS endpoint fail ...
        issuer.jwks_hang = 10.0  # ... or hang, or answer issuer.jwks_body
        assert issuer.jwks_fetches == 1  # how many times the JWKS was fetched
