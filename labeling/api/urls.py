from django.urls import include, path

from core.api.routers import Router
from labeling.api import views

router = Router()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("imports", views.ImportViewSet, basename="import")
router.register("leases", views.LeaseViewSet, basename="lease")

project_tasks = views.ProjectTasksView.as_view({"get": "list", "post": "create"})
project_imports = views.ProjectImportsView.as_view({"get": "list", "post": "create"})

urlpatterns = [
    path("projects/<id:project_id>/tasks/", project_tasks, name="project-tasks"),
    path("projects/<id:project_id>/imports/", project_imports, name="project-imports"),
    path("projects/<id:project_id>/claim/", views.ClaimView.as_view(), name="project-claim"),
    path("work/projects/", views.WorkProjectsView.as_view(), name="work-projects"),
    path("", include(router.urls)),
    path("", include("labeling.api.export_endpoints")),
    path("", include("labeling.api.webhooks")),
    path("", include("labeling.api.review")),
    path("", include("labeling.api.access")),
]
