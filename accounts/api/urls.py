from django.urls import path

from accounts.api import personal_data, views
from core.api.routers import Router

router = Router()
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("users", views.UserViewSet, basename="user")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("erasure-requests", personal_data.ErasureRequestViewSet, basename="erasure-request")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("me/data/", personal_data.MyDataView.as_view(), name="me-data"),
    path(
        "me/erasure-request/",
        personal_data.MyErasureRequestView.as_view(),
        name="me-erasure-request",
    ),
    *router.urls,
]
