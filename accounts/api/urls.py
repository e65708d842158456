"""The accounts API: one module per resource, each with its serializers, views and URLs."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.users")),
    path("", include("accounts.api.personal_data")),
    path("", include("accounts.api.tokens")),
    path("", include("accounts.api.audit")),
]
