"""Portal pages of check attempts: the labeling page serving a training module or a test."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
