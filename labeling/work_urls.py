"""The annotator portal: work home, labeling and review pages, the person's history (namespace "work")."""

from django.urls import URLPattern, URLResolver, include, path

from labeling import work_views

app_name = "work"

urlpatterns: list[URLPattern | URLResolver] = [
    path("work/", work_views.home, name="home"),
    path("work/projects/<id:project_id>/", work_views.label, name="label"),
    path("work/projects/<id:project_id>/review/", work_views.review, name="review"),
    path("work/history/", work_views.history, name="history"),
    path(
        "work/leases/<id:lease_id>/release/",
        work_views.lease_release_beacon,
        name="lease_release",
    ),
    path("", include("labeling.views.checks")),
]
