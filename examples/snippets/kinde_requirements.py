"""README "Roles, feature flags and organizations": route requirements beyond scopes (FastAPI)."""

# No `from __future__ import annotations` in FastAPI modules: FastAPI reads these signatures.
from typing import Annotated

from fastapi import Depends, FastAPI

from kinde_guard import Claims, KindeGuard
from kinde_guard.fastapi import KindeAuth


def is_staff(claims: Claims) -> bool:
    """A route's own rule over the verified claims (sync, no I/O): only True lets the request in."""
    return str(claims.raw.get("email", "")).endswith("@acme.com")


def create_app(guard: KindeGuard) -> FastAPI:
    kinde = KindeAuth(guard)
    app = FastAPI()
    kinde.install(app)  # also writes what each route requires into its OpenAPI description

    admins = kinde.require(roles=["admin", "owner"], match="any", org_codes=["org_acme"])
    beta = kinde.require(feature_flags={"beta_search": True, "plan": "pro"})  # bool "b", str "s"
    staff = kinde.require(claims_check=is_staff, claims_check_message="Only Acme staff may read the audit log.")

    @app.get("/reports")
    async def reports(claims: Annotated[Claims, Depends(admins)]) -> dict[str, object]:
        return {"org": claims.org_code, "roles": sorted(claims.role_keys)}

    @app.get("/search")
    async def search(claims: Annotated[Claims, Depends(beta)]) -> dict[str, object]:
        return {"theme": claims.feature_flag("theme", "light")}  # typed: a str flag, else the default

    @app.get("/audit")
    async def audit(claims: Annotated[Claims, Depends(staff)]) -> dict[str, object]:
        return {"for": claims.sub}

    return app
