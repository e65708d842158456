"""Portal pages of the dashboards (namespace "dashboards"): one URL module per audience."""

from django.urls import URLPattern, URLResolver, include, path

app_name = "dashboards"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("dashboards.views.manager")),
    path("", include("dashboards.views.customer")),
    path("", include("dashboards.views.annotator")),
    path("", include("dashboards.views.people")),
]
