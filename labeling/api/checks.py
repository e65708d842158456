"""API of check attempts: training and test items served, answered and scored."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
