from django.urls import include, path

urlpatterns = [
    path("", include("quality.api.rules")),
    path("", include("quality.api.reports")),
]
