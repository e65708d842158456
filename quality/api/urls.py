"""The quality API: one module per resource, each with its serializers, views and URLs."""

from django.urls import include, path

urlpatterns = [
    path("", include("quality.api.rules")),
    path("", include("quality.api.actions")),
    path("", include("quality.api.appeals")),
    path("", include("quality.api.reports")),
    path("", include("quality.api.standing")),
    path("", include("quality.api.reaggregation")),
    path("", include("quality.api.performance")),
    path("", include("quality.api.retraining")),
]
