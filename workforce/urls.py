from django.urls import URLPattern, URLResolver, include, path

from workforce.views import people as views

app_name = "workforce"

urlpatterns: list[URLPattern | URLResolver] = [
    path("profile/", views.profile, name="profile"),
    path("people/", views.people, name="people"),
    path("people/<id:user_id>/", views.person_detail, name="person"),
    path("skills/", views.skills, name="skills"),
    path("", include("workforce.views.onboarding")),
    path("", include("workforce.views.checks")),
    path("", include("workforce.views.teams")),
    path("", include("workforce.views.notifications")),
    path("", include("workforce.views.tiers")),
]
