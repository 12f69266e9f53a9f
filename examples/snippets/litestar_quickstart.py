from litestar import Litestar, Request, delete, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath

from kinde_guard import Claims, GuardConfig, KindeGuard, Requirements
from kinde_guard.litestar import KindePlugin, requires


@get("/orders", guards=[requires(scopes=["read:orders"])])  # on a route, a Controller or a Router
async def list_orders(request: Request[Claims, Claims, State]) -> list[str]:
    return [f"orders of {request.user.sub}"]  # request.user and request.auth: the verified Claims


@delete("/orders/{order_id:str}", opt={"kinde": Requirements(permissions=["delete:orders"])})  # or route opt
async def delete_order(order_id: FromPath[str]) -> None:
    return None


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_app(guard: KindeGuard | None = None) -> Litestar:
    """The API, guarded by ``guard`` (a test passes one) or else by one built from the environment."""
    kinde = KindePlugin(guard or KindeGuard(GuardConfig.from_env()), exclude=["^/healthz$", "^/schema"])
    return Litestar(
        route_handlers=[list_orders, delete_order, healthz],
        plugins=[kinde],  # the middleware, the refusal format, the opt guard, the OpenAPI OAuth2 scheme
        openapi_config=OpenAPIConfig(title="Orders", version="1.0.0"),
    )
