from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from kinde_guard import GuardConfig, KindeGuard
from kinde_guard.mcp import KindeTokenVerifier


def create_app() -> Starlette:
    guard = KindeGuard(GuardConfig.from_env())  # KINDE_DOMAIN, KINDE_RESOURCE=https://mcp.acme.com/mcp
    verifier = KindeTokenVerifier(guard)
    server = MCPServer(
        "orders",
        token_verifier=verifier,
        auth=AuthSettings.model_validate(
            {
                "issuer_url": guard.config.domain,  # a string: the SDK keeps it exactly (no trailing "/")
                "resource_server_url": guard.config.resource,
                "required_scopes": ["read:orders"],
                "validate_token_resource": False,  # the verifier checks the audience itself
            }
        ),
    )
    return verifier.install(server.streamable_http_app())  # a JWKS outage answers 503, not 500
