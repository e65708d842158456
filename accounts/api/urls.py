from django.urls import path
from core.api.routers import Router

from accounts.api import views

router = Router()
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("users", views.UserViewSet, basename="user")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
