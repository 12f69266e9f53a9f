"""drf-spectacular: the Kinde OAuth 2.0 scheme of :class:`kinde_guard.drf.KindeAuthentication`.

Registered by ``kinde_guard.django``'s app config when ``drf_spectacular`` is in
``INSTALLED_APPS`` (drf-spectacular finds extensions by import). The scheme is the
authorization-code flow at the tenant's ``/oauth2/auth`` and ``/oauth2/token``; each operation's
security requirement lists the scopes its :class:`~kinde_guard.drf.HasScopes` permissions name.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.permissions import AND, NOT, OR

from .django import get_guard
from .drf import SCOPES_IN_USE, HasRequirements

__all__ = ["KindeScheme", "scopes_of_permission"]


def scopes_of_permission(permission: object) -> list[str]:
    """The scopes a (possibly composed) permission instance asks for; ``~`` ones ask for none."""
    if isinstance(permission, HasRequirements):
        return list(permission.requirements.scopes)
    if isinstance(permission, NOT):
        return []
    if isinstance(permission, (AND, OR)):
        return scopes_of_permission(permission.op1) + scopes_of_permission(permission.op2)
    return []


class KindeScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "kinde_guard.drf.KindeAuthentication"
    match_subclasses = True
    name = "kinde"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        domain = get_guard().config.domain
        flow = {
            "authorizationUrl": f"{domain}/oauth2/auth",
            "tokenUrl": f"{domain}/oauth2/token",
            "scopes": {scope: scope for scope in sorted(SCOPES_IN_USE)},
        }
        return {"type": "oauth2", "flows": {"authorizationCode": flow}}

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
        scopes: list[str] = []
        for permission in auto_schema.view.get_permissions():
            scopes += [s for s in scopes_of_permission(permission) if s not in scopes]
        return {self.name: scopes}
