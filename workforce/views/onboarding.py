"""Portal pages of the onboarding journey: the checklist, the approval queue, where applicants are stuck."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
