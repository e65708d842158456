from django.urls import URLPattern, URLResolver, path

from labeling import access_views
from labeling.views import exports, imports, projects, tasks

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
    path("projects/", projects.project_list, name="project_list"),
    path("projects/new/", projects.project_create, name="project_create"),
    path("projects/<id:project_id>/", projects.project_detail, name="project_detail"),
    path("projects/<id:project_id>/edit/", projects.project_edit, name="project_edit"),
    path("projects/<id:project_id>/status/", projects.project_status, name="project_status"),
    path(
        "projects/<id:project_id>/instructions/",
        projects.instructions_publish,
        name="instructions_publish",
    ),
    path("projects/<id:project_id>/imports/upload/", imports.import_upload, name="import_upload"),
    path("projects/<id:project_id>/imports/url/", imports.import_location, name="import_location"),
    path("projects/<id:project_id>/export/", exports.export_create, name="export_create"),
    path("projects/<id:project_id>/tasks/", tasks.task_list, name="task_list"),
    path("imports/<id:import_id>/", imports.import_detail, name="import_detail"),
    path("imports/<id:import_id>/row/", imports.import_row, name="import_row"),
    path("exports/<id:export_id>/download/", exports.export_download, name="export_download"),
    path("tasks/<id:task_id>/", tasks.task_detail, name="task_detail"),
    path("tasks/<id:task_id>/gold/", tasks.task_gold_set, name="task_gold_set"),
    path("tasks/<id:task_id>/gold/retire/", tasks.task_gold_retire, name="task_gold_retire"),
]
