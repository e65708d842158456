"""The labeling API: one module per resource, each with its serializers, views and URLs.

Annotators' work comes first: claim and submit are the most frequent calls, and the hot path
(`labeling.api.hotpath`) resolves each of them before it serves it.
"""

from django.urls import include, path

urlpatterns = [
    path("", include("labeling.api.work")),
    path("", include("labeling.api.review")),
    path("", include("labeling.api.customers")),
    path("", include("labeling.api.access")),
    path("", include("labeling.api.projects")),
    path("", include("labeling.api.tasks")),
    path("", include("labeling.api.gold")),
    path("", include("labeling.api.imports")),
    path("", include("labeling.api.exports")),
    path("", include("labeling.api.webhooks")),
    path("", include("labeling.api.checks")),
]
