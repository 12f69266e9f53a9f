"""README snippet: Django REST framework (tests/test_django_snippets.py runs it against a local issuer).

One file standing for a project's ``settings.py`` (its ``REST_FRAMEWORK`` part; the ``KINDE_*``
settings as in the Django snippet) and a ``views.py`` with its ``urlpatterns``.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kinde_guard.drf import HasPermissions, HasScopes

# settings.py
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["kinde_guard.drf.KindeAuthentication"],
    "EXCEPTION_HANDLER": "kinde_guard.drf.exception_handler",  # 401/403 with RFC 6750 challenges, the one JSON body
    "UNAUTHENTICATED_USER": None,  # request.user without a token: no django.contrib.auth, no database
}


# views.py
class Orders(APIView):
    permission_classes = (HasScopes("read:orders"),)

    def get(self, request: Request) -> Response:
        # request.user: a KindeUser (username = sub, or the M2M client id); request.auth: the Claims
        return Response({"for": request.user.username, "scopes": sorted(request.auth.scopes)})


class Order(APIView):
    permission_classes = (HasScopes("write:orders") & HasPermissions("delete:orders"),)  # & | ~ compose

    def delete(self, request: Request, order_id: str) -> Response:
        return Response(status=204)


class Reports(APIView):
    permission_classes = (HasScopes("read:reports", "admin:reports", match="any"),)  # any one of them

    def get(self, request: Request) -> Response:
        return Response([])


urlpatterns = [
    path("orders", Orders.as_view()),
    path("orders/<str:order_id>", Order.as_view()),
    path("reports", Reports.as_view()),
]
