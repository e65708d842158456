from django.urls import URLPattern, URLResolver, path

from labeling import access_views, views

app_name = "labeling"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "customers/ip-allowlists/",
        access_views.customer_ip_allowlist_list,
        name="customer_ip_allowlist_list",
    ),
    path(
        "customers/<id:customer_id>/ip-allowlist/",
        access_views.customer_ip_allowlist,
        name="customer_ip_allowlist",
    ),
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<id:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<id:project_id>/edit/", views.project_edit, name="project_edit"),
    path("projects/<id:project_id>/status/", views.project_status, name="project_status"),
    path(
        "projects/<id:project_id>/instructions/",
        views.instructions_publish,
        name="instructions_publish",
    ),
    path("projects/<id:project_id>/imports/upload/", views.import_upload, name="import_upload"),
    path("projects/<id:project_id>/imports/url/", views.import_location, name="import_location"),
    path("projects/<id:project_id>/export/", views.export_create, name="export_create"),
    path("projects/<id:project_id>/tasks/", views.task_list, name="task_list"),
    path("imports/<id:import_id>/", views.import_detail, name="import_detail"),
    path("imports/<id:import_id>/row/", views.import_row, name="import_row"),
    path("exports/<id:export_id>/download/", views.export_download, name="export_download"),
    path("tasks/<id:task_id>/", views.task_detail, name="task_detail"),
    path("tasks/<id:task_id>/gold/", views.task_gold_set, name="task_gold_set"),
    path("tasks/<id:task_id>/gold/retire/", views.task_gold_retire, name="task_gold_retire"),
]
