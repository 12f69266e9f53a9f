"""README snippet: Django (tests/test_django_snippets.py runs it against a local issuer).

One file standing for a project's ``settings.py`` (its ``KINDE_*`` part) and a ``views.py`` with
its ``urlpatterns``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from kinde_guard.django import kinde_required

# settings.py
# "kinde_guard.django" builds the guard at start-up: bad KINDE_* settings stop Django with a sentence
INSTALLED_APPS = ["kinde_guard.django"]
KINDE_DOMAIN = "https://acme.kinde.com"  # unset: the environment's KINDE_DOMAIN (the same for every KINDE_* name)
KINDE_AUDIENCE = ["https://api.acme.com"]  # a list, or a space-separated string
MIDDLEWARE = ["kinde_guard.django.KindeGuardMiddleware"]  # optional: every path but KINDE_PUBLIC_PATHS needs a token
KINDE_PUBLIC_PATHS = ["/healthz"]


# views.py
@kinde_required(scopes=["read:orders"])
def list_orders(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"for": request.kinde_claims.sub})  # the verified Claims


@kinde_required(permissions=["delete:orders"])
async def delete_order(request: HttpRequest, order_id: str) -> HttpResponse:  # async views too
    return HttpResponse(status=204)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [path("orders", list_orders), path("orders/<str:order_id>", delete_order), path("healthz", healthz)]
