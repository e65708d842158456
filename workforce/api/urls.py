"""The workforce API: one module per resource, each with its serializers, views and URLs."""

from django.urls import include, path

urlpatterns = [
    path("", include("workforce.api.people")),
    path("", include("workforce.api.skills")),
    path("", include("workforce.api.onboarding")),
    path("", include("workforce.api.checks")),
    path("", include("workforce.api.teams")),
    path("", include("workforce.api.notifications")),
    path("", include("workforce.api.tiers")),
    path("", include("workforce.api.messages")),
]
