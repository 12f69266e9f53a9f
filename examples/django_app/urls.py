"""The routes, at exactly these paths (``APPEND_SLASH = False``)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("public", views.Public.as_view()),
    path("me", views.Me.as_view()),
    path("orders", views.Orders.as_view()),
    path("orders/<str:order_id>", views.Order.as_view()),
    path("healthz", views.Healthz.as_view()),
    path("admin/reports", views.AdminReports.as_view()),
    path("beta/suggestions", views.BetaSuggestions.as_view()),
]

handler404 = "examples.django_app.views.not_found"
