"""README snippet: Kinde API keys (tests/test_api_keys_http.py runs it)."""

from __future__ import annotations

import os

from kinde_guard import Claims, KindeGuard, Requirements

guard = KindeGuard(
    domain=os.environ["KINDE_DOMAIN"],  # https://acme.kinde.com
    audience="https://api.example.com",
    api_keys=True,  # or KINDE_API_KEYS=true with GuardConfig.from_env()
    m2m_client_id=os.environ["KINDE_M2M_CLIENT_ID"],  # the M2M app with read:api_keys
    m2m_client_secret=os.environ["KINDE_M2M_CLIENT_SECRET"],
)
only_tokens = Requirements(accept_api_keys=False)  # for a route that takes access tokens only


def read_orders(authorization: str) -> Claims:
    claims = guard.authenticate(authorization, scopes=["read:orders"])  # "Bearer k_live_..." or a JWT
    # claims.credential is "api_key" or "access_token"; claims.key_id, .sub (the key's user), .org_code
    return claims
