from django.urls import path

from accounts import personal_data_views, views

app_name = "accounts"

urlpatterns = [
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<id:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("staff/users/", views.user_list, name="user_list"),
    path("staff/users/<id:user_id>/", views.user_detail, name="user_detail"),
    path("audit/", views.audit_list, name="audit_list"),
    path("me/data/", personal_data_views.my_data, name="my_data"),
    path("me/data/download/", personal_data_views.my_data_download, name="my_data_download"),
    path("staff/erasure-requests/", personal_data_views.erasure_list, name="erasure_list"),
    path(
        "staff/erasure-requests/<id:request_id>/",
        personal_data_views.erasure_detail,
        name="erasure_detail",
    ),
]
