from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<id:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("staff/users/", views.user_list, name="user_list"),
    path("staff/users/<id:user_id>/", views.user_detail, name="user_detail"),
    path("audit/", views.audit_list, name="audit_list"),
]
