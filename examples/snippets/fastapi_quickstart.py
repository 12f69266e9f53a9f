"""README snippet: FastAPI (tests/test_readme.py runs it against a local issuer).

Serve it with ``uvicorn examples.snippets.fastapi_quickstart:create_app --factory``.
"""

# No `from __future__ import annotations` in FastAPI modules: FastAPI reads these signatures.
from typing import Annotated

from fastapi import Depends, FastAPI, Security

from kinde_guard import Claims, GuardConfig, KindeGuard
from kinde_guard.fastapi import KindeAuth


def create_app(guard: KindeGuard | None = None) -> FastAPI:
    """The API, guarded by ``guard`` (a test passes one) or else by one built from the environment."""
    kinde = KindeAuth(guard or KindeGuard(GuardConfig.from_env()))  # KINDE_DOMAIN, KINDE_AUDIENCE
    app = FastAPI(swagger_ui_init_oauth=kinde.swagger_ui_init_oauth(client_id="<your Kinde app's client id>"))
    kinde.install(app)  # the one error format, and every route's scopes in OpenAPI

    @app.get("/orders")
    async def list_orders(claims: Annotated[Claims, Security(kinde, scopes=["read:orders"])]) -> list[str]:
        return [f"orders of {claims.sub}"]

    @app.delete("/orders/{order_id}", status_code=204)
    async def delete_order(
        order_id: str, _: Annotated[Claims, Depends(kinde.require_permissions("delete:orders"))]
    ) -> None:
        return None

    return app
