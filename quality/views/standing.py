"""Portal pages of probation and tier decisions: the candidates queue."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
