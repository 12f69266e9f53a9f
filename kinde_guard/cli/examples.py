"""The examples shown by ``kinde-guard COMMAND --help``."""

from __future__ import annotations

from .token_helper import DEFAULT_REDIRECT_URI

__all__ = ["EXAMPLES"]

EXAMPLES = {
    "token": f"""examples:
  kinde-guard token --domain https://acme.kinde.com --client-id CLIENT_ID --audience https://api.acme.com
  TOKEN=$(kinde-guard token) && curl -H "Authorization: Bearer $TOKEN" http://localhost:8000/orders
  kinde-guard token --no-browser --fresh --json          # sign in again, show the response and claims
  kinde-guard token --device --client-id DEVICE_APP_ID    # no local browser: a code to enter elsewhere
  kinde-guard token --domain http://127.0.0.1:53181 --client-id kinde-guard-dev-client \\
      --audience https://api.example.com --scope "openid email offline read:orders"   # dev issuer

Register the callback URL (default {DEFAULT_REDIRECT_URI}) in Kinde: Settings > Applications >
View details > Allowed callback URLs (--device needs a Device and IoT app instead, no callback
URL). Environment: KINDE_DOMAIN, KINDE_CLIENT_ID,
KINDE_CLIENT_SECRET, KINDE_AUDIENCE (space-separated).""",
    "m2m": """examples:
  kinde-guard m2m --domain https://acme.kinde.com --client-id M2M_ID --client-secret SECRET \\
      --audience https://api.acme.com --scope "read:orders write:orders"
  kinde-guard m2m --domain http://127.0.0.1:53181 --client-id kinde-guard-dev-m2m \\
      --client-secret dev-m2m-secret-not-for-production --audience https://api.example.com""",
    "refresh": """examples:
  kinde-guard refresh                       # with the KINDE_* environment of an earlier `token`
  kinde-guard refresh --domain https://acme.kinde.com --client-id CLIENT_ID --audience https://api.acme.com

Uses the refresh token cached by `kinde-guard token` (granted with the scope "offline"). Without
--scope, it refreshes the newest token cached for the domain, client, audience and organization.""",
    "decode": """examples:
  kinde-guard decode eyJhbGciOi...
  kinde-guard token | kinde-guard decode -
  kinde-guard decode --json < token.txt

Shows the header and claims WITHOUT verifying them; use `kinde-guard check` to verify.""",
    "check": """examples:
  kinde-guard check "$TOKEN" --domain https://acme.kinde.com --audience https://api.acme.com --scope read:orders
  kinde-guard token | kinde-guard check - --scope "read:orders write:orders" --permission delete:orders
  kinde-guard check "$TOKEN" --domain http://127.0.0.1:53181 --audience https://api.example.com --json

A value pasted with its "Bearer " prefix is accepted (the prefix is dropped, with a note).
Exit status 0 when every check passes, 1 otherwise.""",
    "dev-issuer": """examples:
  kinde-guard dev-issuer                              # http://127.0.0.1:53181, built-in demo tenant
  kinde-guard dev-issuer --port 9000 --config tenant.json --keys-dir ./.dev-keys
  kinde-guard dev-issuer --print-config > tenant.json  # the defaults, to edit

For development and tests only: binds 127.0.0.1, signs in without passwords.""",
}
