"""In-process cost of a cache hit with route requirements: scopes only vs. roles + a feature flag.

    .venv/bin/python benchmarks/route_requirements_timeit.py

One real signed token, verified once (so every call below is a verified-token cache hit), then
``guard.authenticate(header, requirements=...)`` timed for each route's requirements.
"""

from __future__ import annotations

import timeit

from kinde_guard import Requirements
from kinde_guard.testing import DevIssuer

issuer = DevIssuer()
guard = issuer.guard()
token = issuer.mint(
    scopes=["openid", "read:orders"], roles=["admin", "viewer"], feature_flags={"beta": True, "plan": "pro"}
)
header = "Bearer " + token
ROUTES = {
    "no requirements": Requirements(),
    "scope read:orders": Requirements(scopes=["read:orders"]),
    "role admin + flag beta": Requirements(roles=["admin"], feature_flags=["beta"]),
    "role admin + flags beta, plan=pro": Requirements(roles=["admin"], feature_flags={"beta": True, "plan": "pro"}),
}
guard.authenticate(header)  # the one miss: verified and cached
for name, needs in ROUTES.items():
    guard.authenticate(header, requirements=needs)  # must pass
    n = 200_000
    best = min(timeit.repeat(lambda n=needs: guard.authenticate(header, requirements=n), number=n, repeat=5))
    print(f"{name:<42} {best / n * 1e9:7.0f} ns per call")
