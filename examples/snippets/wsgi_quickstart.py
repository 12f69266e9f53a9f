"""README snippet: any WSGI app (tests/test_readme.py runs it against a local issuer)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from kinde_guard import GuardConfig, KindeGuard
from kinde_guard.wsgi import KindeGuardMiddleware, claims_from_environ


def orders(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    claims = claims_from_environ(environ)  # verified Claims (None only on public paths)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"for": claims.sub if claims else None}).encode()]


guard = KindeGuard(GuardConfig.from_env())  # once per process, shared by the server's threads
application = KindeGuardMiddleware(orders, guard=guard, public_paths=["/healthz", "/static/"])
