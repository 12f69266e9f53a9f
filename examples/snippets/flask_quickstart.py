"""README snippet: Flask (tests/test_readme.py runs it against a local issuer).

Serve it with ``flask --app examples.snippets.flask_quickstart run`` (Flask calls ``create_app()``).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from kinde_guard import KindeGuard
from kinde_guard.flask import FlaskKindeGuard, current_claims


def create_app(guard: KindeGuard | None = None) -> Flask:
    """The API, guarded by ``guard`` (a test passes one) or else by one built from the KINDE_* settings."""
    app = Flask(__name__)
    app.config.update({k: v for k, v in os.environ.items() if k.startswith("KINDE_")})  # or your config files
    kinde = FlaskKindeGuard(app, guard=guard)  # None: built from app.config's KINDE_*; refusals become JSON

    @app.get("/orders")
    @kinde.require(scopes=["read:orders"])
    def list_orders() -> dict[str, Any]:
        return {"for": current_claims.sub}

    @app.delete("/orders/<order_id>")
    @kinde.require(permissions=["delete:orders"])
    def delete_order(order_id: str) -> tuple[str, int]:
        return "", 204

    @app.get("/me")
    @kinde.require()  # any valid token
    async def me() -> dict[str, Any]:  # async views work too
        return current_claims.to_dict()

    return app
