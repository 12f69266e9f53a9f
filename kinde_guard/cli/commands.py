"""The ``kinde-guard`` command (also ``python -m kinde_guard``): tokens for testing guarded APIs.

Only the access token goes to stdout (``TOKEN=$(kinde-guard token)`` works); progress and errors go
to stderr. Errors are one sentence and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..config import GuardConfig
from ..errors import KindeGuardError
from .check import check_token, decode_token, human_duration, render_decoded
from .examples import EXAMPLES
from .token_cache import TokenCache, cache_key
from .token_helper import (
    DEFAULT_REDIRECT_URI,
    DEFAULT_SCOPE,
    AuthFlow,
    TokenHelperError,
    client_credentials,
    expires_at,
    normalize_domain,
    refresh,
)

__all__ = ["build_parser", "main"]


def _env(value: str | None, name: str) -> str | None:
    return value if value else (os.environ.get(name) or None)


def _audiences(args: argparse.Namespace) -> list[str]:
    given = [a for value in (args.audience or []) for a in value.split()]
    return given or (os.environ.get("KINDE_AUDIENCE") or "").split()


def _required(value: str | None, option: str, env: str) -> str:
    if not value:
        raise TokenHelperError(f"{option} is required (or set {env}).")
    return value


def _identity(args: argparse.Namespace) -> tuple[str, str, str | None, list[str]]:
    domain = normalize_domain(_required(_env(args.domain, "KINDE_DOMAIN"), "--domain", "KINDE_DOMAIN"))
    client_id = _required(_env(args.client_id, "KINDE_CLIENT_ID"), "--client-id", "KINDE_CLIENT_ID")
    return domain, client_id, _env(args.client_secret, "KINDE_CLIENT_SECRET"), _audiences(args)


def _emit(response: dict[str, Any], as_json: bool) -> None:
    """The access token on stdout (or, with --json, the response and decoded claims); a note on stderr."""
    token = response["access_token"]
    _, claims = decode_token(token)
    if as_json:
        # The refresh token stays in the cache: printed, it would end up in terminals and logs.
        shown = {k: v for k, v in response.items() if k != "refresh_token"}
        if "refresh_token" in response:
            shown["refresh_token_cached"] = True
        decoded = {"access_token": claims}
        if isinstance(response.get("id_token"), str):
            decoded["id_token"] = decode_token(response["id_token"])[1]
        print(json.dumps({"token_response": shown, "claims": decoded}, indent=2))
    else:
        print(token)
    exp = claims.get("exp")
    life = f", expires in {human_duration(exp - time.time())}" if isinstance(exp, (int, float)) else ""
    scopes = " ".join(claims.get("scp") or []) or claims.get("scope") or "none"
    print(f"Access token for aud {json.dumps(claims.get('aud'))}, scopes: {scopes}{life}.", file=sys.stderr)


def _cache_entry(domain: str, client_id: str, response: dict[str, Any]) -> dict[str, Any]:
    entry = {"domain": domain, "client_id": client_id, "expires_at": expires_at(response)}
    entry.update({k: response[k] for k in ("access_token", "refresh_token", "id_token", "scope") if k in response})
    return entry


def _save(cache: TokenCache, key: str, entry: dict[str, Any]) -> None:
    try:
        cache.save(key, entry)
    except OSError as exc:  # the token is still good: print it, say why it is not cached
        print(f"Could not cache the token in {cache.directory} ({exc.strerror}).", file=sys.stderr)


def cmd_token(args: argparse.Namespace) -> int:
    domain, client_id, secret, audiences = _identity(args)
    cache, key = TokenCache(), cache_key(domain, client_id, audiences, args.scope, args.org_code)
    entry = None if args.fresh else cache.load(key)
    if entry is not None and isinstance(entry.get("access_token"), str):
        if float(entry.get("expires_at", 0)) - 60 > time.time():
            print("Using the cached token (--fresh signs in again).", file=sys.stderr)
            _emit(entry, args.json)
            return 0
        if isinstance(entry.get("refresh_token"), str):
            try:
                response = refresh(domain, client_id, secret, entry["refresh_token"])
            except TokenHelperError as exc:
                print(f"Could not refresh the cached token ({exc}); signing in again.", file=sys.stderr)
            else:
                _save(cache, key, _cache_entry(domain, client_id, response))
                print("Refreshed the cached token.", file=sys.stderr)
                _emit(response, args.json)
                return 0
    flow = AuthFlow(
        domain=domain,
        client_id=client_id,
        client_secret=secret,
        audiences=audiences,
        scope=args.scope,
        redirect_uri=args.redirect_uri,
        prompt=args.prompt,
        org_code=args.org_code,
        open_browser=not args.no_browser,
        timeout=args.timeout,
    )
    response = flow.run()
    _save(cache, key, _cache_entry(domain, client_id, response))
    _emit(response, args.json)
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    domain, client_id, secret, audiences = _identity(args)
    cache, key = TokenCache(), cache_key(domain, client_id, audiences, args.scope, args.org_code)
    entry = cache.load(key) or {}
    if not isinstance(entry.get("refresh_token"), str):
        raise TokenHelperError(
            "no cached refresh token for this domain, client, audience and scope; run `kinde-guard token` "
            'first (with the scope "offline").'
        )
    response = refresh(domain, client_id, secret, entry["refresh_token"])
    _save(cache, key, _cache_entry(domain, client_id, response))
    _emit(response, args.json)
    return 0


def cmd_m2m(args: argparse.Namespace) -> int:
    domain, client_id, secret, audiences = _identity(args)
    secret = _required(secret, "--client-secret", "KINDE_CLIENT_SECRET")
    _emit(client_credentials(domain, client_id, secret, audiences, args.scope), args.json)
    return 0


def _read_token(value: str | None) -> str:
    if value is None or value == "-":
        if value is None and sys.stdin.isatty():
            raise TokenHelperError("pass a token as the argument, or pipe one in (with - as the argument).")
        value = sys.stdin.read()
    token = value.strip()
    if not token:
        raise TokenHelperError("no token given: the argument or standard input is empty.")
    return token


def cmd_decode(args: argparse.Namespace) -> int:
    print(render_decoded(_read_token(args.token), as_json=args.json))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    token = _read_token(args.token)
    domain = normalize_domain(_required(_env(args.domain, "KINDE_DOMAIN"), "--domain", "KINDE_DOMAIN"))
    options: dict[str, Any] = {"domain": domain, "audience": _audiences(args), "leeway": args.leeway}
    if args.jwks_uri:
        options["jwks_uri"] = args.jwks_uri
    if args.issuer:
        options["issuers"] = args.issuer
    passed, checks = check_token(token, GuardConfig(**options), args.scope or [], args.permission or [])
    if args.json:
        doc = {"ok": passed, "checks": [{"check": c.name, "status": c.status, "detail": c.detail} for c in checks]}
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(c.line() for c in checks))
        failed = sum(c.status == "fail" for c in checks)
        print("Result: the token passes." if passed else f"Result: the token FAILS ({failed} check(s) failed).")
    return 0 if passed else 1


def cmd_dev_issuer(args: argparse.Namespace) -> int:
    from ..devserver import default_config_document, run

    if args.print_config:
        print(json.dumps(default_config_document(), indent=2))
        return 0
    run(args.port, args.config, args.keys_dir)
    return 0


def _sub(subs: Any, name: str, summary: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subs.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def _add_identity(parser: argparse.ArgumentParser, scope_default: str | None = DEFAULT_SCOPE) -> None:
    parser.add_argument("--domain", help="your Kinde domain, e.g. https://acme.kinde.com (env KINDE_DOMAIN)")
    parser.add_argument("--client-id", help="the application's client id (env KINDE_CLIENT_ID)")
    parser.add_argument("--client-secret", help="back-end and M2M apps only (env KINDE_CLIENT_SECRET)")
    parser.add_argument(
        "--audience", action="append", help="API audience; repeat for several (env KINDE_AUDIENCE, space-separated)"
    )
    parser.add_argument("--scope", default=scope_default, help=f"space-separated scopes (default: {scope_default})")
    parser.add_argument("--json", action="store_true", help="print the token response and decoded claims as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinde-guard",
        description="Tokens for testing APIs guarded by kinde_guard: sign in (PKCE), M2M, refresh, decode, check, "
        "and a local Kinde-shaped dev issuer.",
        epilog="Run `kinde-guard COMMAND --help` for a command's options and examples.",
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    token = _sub(
        subs, "token", "Sign in through the browser (Authorization Code + PKCE); print the access token.", cmd_token
    )
    _add_identity(token)
    token.add_argument(
        "--redirect-uri", default=DEFAULT_REDIRECT_URI, help=f"loopback callback URL (default {DEFAULT_REDIRECT_URI})"
    )
    token.add_argument("--prompt", default="login", help="login (default: ask every time), create, none, or '' for SSO")
    token.add_argument("--org-code", help="sign into this organization")
    token.add_argument("--no-browser", action="store_true", help="print the sign-in URL instead of opening a browser")
    token.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the sign-in (default 300)")
    token.add_argument("--fresh", action="store_true", help="ignore the token cache: always sign in")
    m2m = _sub(subs, "m2m", "Get a machine-to-machine token (client credentials); print it.", cmd_m2m)
    _add_identity(m2m, scope_default=None)
    ref = _sub(
        subs, "refresh", "Refresh the cached token with its refresh token; print the new access token.", cmd_refresh
    )
    _add_identity(ref)
    ref.add_argument("--org-code", help="the organization the token was signed into")
    decode = _sub(subs, "decode", "Show a token's header and claims (NOT verified), times readable.", cmd_decode)
    decode.add_argument("token", nargs="?", metavar="TOKEN|-", help="the token, or - (default) to read standard input")
    decode.add_argument("--json", action="store_true", help="print JSON")
    check = _sub(
        subs, "check", "Verify a token with the real guard; one line per check; exit 1 if any fails.", cmd_check
    )
    check.add_argument("token", nargs="?", metavar="TOKEN|-", help="the token, or - (default) to read standard input")
    check.add_argument("--domain", help="your Kinde domain (env KINDE_DOMAIN)")
    check.add_argument("--audience", action="append", help="your API's audience; repeatable (env KINDE_AUDIENCE)")
    check.add_argument("--scope", action="append", help="a scope the route requires; repeatable")
    check.add_argument("--permission", action="append", help="a permission the route requires; repeatable")
    check.add_argument("--jwks-uri", help="where the keys are (default: DOMAIN/.well-known/jwks)")
    check.add_argument("--issuer", action="append", help="accepted iss; repeatable (default: the domain)")
    check.add_argument("--leeway", type=float, default=60.0, help="clock skew tolerated, in seconds (default 60)")
    check.add_argument("--json", action="store_true", help="print the checks as JSON")
    dev = _sub(
        subs, "dev-issuer", "Run a local Kinde-shaped issuer on 127.0.0.1 (development and tests only).", cmd_dev_issuer
    )
    dev.add_argument("--port", type=int, default=53181, help="port on 127.0.0.1 (default 53181)")
    dev.add_argument("--config", help="tenant config (JSON): users, organizations, clients, APIs")
    dev.add_argument(
        "--keys-dir", help="where the signing key is kept (default $XDG_CACHE_HOME/kinde-guard/dev-issuer)"
    )
    dev.add_argument("--print-config", action="store_true", help="print the built-in config as JSON and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
        return code
    except KindeGuardError as exc:
        print(f"kinde-guard: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"kinde-guard: error: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kinde-guard: interrupted.", file=sys.stderr)
        return 130
