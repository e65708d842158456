"""API: the Stripe webhook endpoint (wired into payments/api/urls.py)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
