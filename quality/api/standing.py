"""API of probation and tier decisions: promotion and demotion candidates."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
