from django.urls import path

from workforce import views

app_name = "workforce"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("people/", views.people, name="people"),
    path("people/<id:user_id>/", views.person_detail, name="person"),
    path("skills/", views.skills, name="skills"),
]
