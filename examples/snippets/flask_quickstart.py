"""README snippet: Flask (tests/test_readme.py runs it against a local issuer)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from kinde_guard.flask import FlaskKindeGuard, current_claims

kinde = FlaskKindeGuard()


def create_app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(KINDE_DOMAIN="https://acme.kinde.com", KINDE_AUDIENCE="https://api.acme.com")
    app.config.update(config)
    kinde.init_app(app)  # reads KINDE_* from app.config; errors become JSON + WWW-Authenticate

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
