"""The ``kinde-guard`` command (also ``python -m kinde_guard``): tokens for testing guarded APIs.

Only the access token goes to stdout (``TOKEN=$(kinde-guard token)`` works); progress and errors go
to stderr. Errors are one sentence and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from ..config import GuardConfig
from ..errors import ConfigurationError, KindeGuardError
from .check import check_token, parse_feature_flag, render_decoded
from .examples import EXAMPLES
from .options import audiences, config_error, domain, words
from .token_helper import DEFAULT_REDIRECT_URI, DEFAULT_SCOPE, TokenHelperError
from .tokens import cmd_m2m, cmd_refresh, cmd_token

__all__ = ["build_parser", "main"]


def _read_token(value: str | None) -> str:
    if value is None or value == "-":
        if value is None and sys.stdin.isatty():
            raise TokenHelperError("pass a token as the argument, or pipe one in (with - as the argument).")
        value = sys.stdin.read()
    token = value.strip()
    if token[:7].lower() == "bearer ":
        # A value copied from an Authorization header: the token is what follows the scheme.
        token = token[7:].strip()
        print('Note: dropped the "Bearer " prefix; the token is what follows it.', file=sys.stderr)
    if not token:
        raise TokenHelperError("no token given: the argument or standard input is empty.")
    return token


def cmd_decode(args: argparse.Namespace) -> int:
    print(render_decoded(_read_token(args.token), as_json=args.json))
    return 0


def _check_config(args: argparse.Namespace) -> GuardConfig:
    audience = audiences(args)
    if not audience:
        raise TokenHelperError(
            "--audience is required (or set KINDE_AUDIENCE): your API's audience as registered in Kinde, "
            "e.g. https://api.acme.com."
        )
    options: dict[str, Any] = {"domain": domain(args), "audience": audience, "leeway": args.leeway}
    if args.jwks_uri:
        options["jwks_uri"] = args.jwks_uri
    if args.issuer:
        options["issuers"] = words(args.issuer)
    try:
        return GuardConfig(**options)
    except ConfigurationError as exc:  # said with this command's flags, not GuardConfig's fields
        raise config_error(exc) from None


def cmd_check(args: argparse.Namespace) -> int:
    token = _read_token(args.token)
    config = _check_config(args)
    passed, checks = check_token(
        token,
        config,
        words(args.scope),
        words(args.permission),
        roles=words(args.role),
        feature_flags=[parse_feature_flag(f) for f in args.feature_flag or ()],
        org_codes=words(args.org),
    )
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


def _add_identity(parser: argparse.ArgumentParser, scope_help: str) -> None:
    parser.add_argument("--domain", help="your Kinde domain, e.g. https://acme.kinde.com (env KINDE_DOMAIN)")
    parser.add_argument("--client-id", help="the application's client id (env KINDE_CLIENT_ID)")
    parser.add_argument("--client-secret", help="back-end and M2M apps only (env KINDE_CLIENT_SECRET)")
    parser.add_argument(
        "--audience",
        action="append",
        help="API audience; space-separated and repeatable (env KINDE_AUDIENCE)",
    )
    parser.add_argument("--scope", action="append", help=f"scopes, space-separated and repeatable; {scope_help}")
    parser.add_argument("--json", action="store_true", help="print the token response and decoded claims as JSON")


def version() -> str:
    """This package's version: ``kinde_guard.__version__``, else the installed distribution's."""
    import kinde_guard

    found = getattr(kinde_guard, "__version__", None)
    if isinstance(found, str):
        return found
    try:
        return metadata.version("kinde-guard")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinde-guard",
        description="Tokens for testing APIs guarded by kinde_guard: sign in (PKCE), M2M, refresh, decode, check, "
        "and a local Kinde-shaped dev issuer.",
        epilog="Run `kinde-guard COMMAND --help` for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"kinde-guard {version()}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    token = _sub(
        subs, "token", "Sign in through the browser (Authorization Code + PKCE); print the access token.", cmd_token
    )
    _add_identity(token, f"default {DEFAULT_SCOPE!r} (offline: a refresh token)")
    token.add_argument(
        "--redirect-uri", default=DEFAULT_REDIRECT_URI, help=f"loopback callback URL (default {DEFAULT_REDIRECT_URI})"
    )
    token.add_argument("--prompt", default="login", help="login (default: ask every time), create, none, or '' for SSO")
    token.add_argument("--org-code", help="sign into this organization")
    token.add_argument("--no-browser", action="store_true", help="print the sign-in URL instead of opening a browser")
    token.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the sign-in (default 300)")
    token.add_argument("--fresh", action="store_true", help="ignore the token cache: always sign in")
    token.add_argument(
        "--device",
        action="store_true",
        help="sign in on another device: show a code and a URL, no local browser (RFC 8628; a Device and IoT app)",
    )
    m2m = _sub(subs, "m2m", "Get a machine-to-machine token (client credentials); print it.", cmd_m2m)
    _add_identity(m2m, "none sent by default (the issuer then grants what the app is authorized for)")
    ref = _sub(
        subs, "refresh", "Refresh the cached token with its refresh token; print the new access token.", cmd_refresh
    )
    _add_identity(ref, "the scope of the `token` run whose token to refresh (default: the newest cached one)")
    ref.add_argument("--org-code", help="the organization the token was signed into")
    decode = _sub(subs, "decode", "Show a token's header and claims (NOT verified), times readable.", cmd_decode)
    decode.add_argument("token", nargs="?", metavar="TOKEN|-", help="the token, or - (default) to read standard input")
    decode.add_argument("--json", action="store_true", help="print JSON")
    check = _sub(
        subs, "check", "Verify a token with the real guard; one line per check; exit 1 if any fails.", cmd_check
    )
    check.add_argument("token", nargs="?", metavar="TOKEN|-", help="the token, or - (default) to read standard input")
    check.add_argument("--domain", help="your Kinde domain (env KINDE_DOMAIN)")
    check.add_argument(
        "--audience", action="append", help="your API's audience; space-separated and repeatable (env KINDE_AUDIENCE)"
    )
    check.add_argument(
        "--scope", action="append", help="scopes the route requires (all of them); space-separated and repeatable"
    )
    check.add_argument(
        "--permission",
        action="append",
        help="permissions the route requires (all of them); space-separated and repeatable",
    )
    check.add_argument(
        "--role",
        action="append",
        help="Kinde role keys the route requires (all of them); space-separated and repeatable",
    )
    check.add_argument(
        "--feature-flag",
        action="append",
        metavar="CODE[=VALUE]",
        help='a feature flag the route requires: CODE (a boolean flag that is on), CODE=false, CODE=5, CODE=pro or CODE="5"; repeatable',
    )
    check.add_argument(
        "--org",
        action="append",
        help="organizations (org_code) of which the token must be for one; space-separated and repeatable",
    )
    check.add_argument("--jwks-uri", help="where the keys are (default DOMAIN/.well-known/jwks)")
    check.add_argument(
        "--issuer", action="append", help="accepted iss; space-separated and repeatable (default the domain)"
    )
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


#: Keeps the library's log records (a JWKS fetch failing, say) off the terminal: Python's last-resort
#: handler would print them raw to stderr, where this command prints only its own sentences.
_QUIET = logging.NullHandler()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    logger = logging.getLogger("kinde_guard")
    logger.addHandler(_QUIET)
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
    finally:
        logger.removeHandler(_QUIET)
