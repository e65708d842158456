"""API of notifications: the caller's own list, marking read, and which kinds go by e-mail."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from workforce.models import Notification, NotificationKind
from workforce.selectors.notifications import (
    notification_preferences_of,
    notifications_of,
    notifications_unread_count,
)
from workforce.services.notifications import (
    notification_mark_read,
    notification_preferences_set,
    notifications_mark_all_read,
)


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "created_at", "read_at", "is_read"]
        read_only_fields = fields

    def get_is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class NotificationListView(generics.ListAPIView[Notification]):
    """The caller's own notifications, newest first; `?unread=true` for unread ones only."""

    serializer_class = NotificationSerializer
    permission_classes = BASE_PERMISSIONS

    def get_queryset(self) -> QuerySet[Notification]:
        notifications = notifications_of(user=self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
            notifications = notifications.filter(read_at__isnull=True)
        return notifications


class NotificationReadView(APIView):
    """Mark one of the caller's notifications read (someone else's answers 404)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(request=None, responses=NotificationSerializer)
    def post(self, request: Request, notification_id: int) -> Response:
        notification = notification_mark_read(
            user=request_user(request), notification_id=notification_id
        )
        return Response(NotificationSerializer(notification).data)


class ReadAllSerializer(serializers.Serializer[Any]):
    marked = serializers.IntegerField(help_text="How many were unread.")
    unread = serializers.IntegerField()


class NotificationReadAllView(APIView):
    """Mark every unread notification of the caller read."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(request=None, responses=ReadAllSerializer)
    def post(self, request: Request) -> Response:
        user = request_user(request)
        marked = notifications_mark_all_read(user=user)
        body = {"marked": marked, "unread": notifications_unread_count(user=user)}
        return Response(ReadAllSerializer(body).data)


class PreferencesSerializer(serializers.Serializer[Any]):
    by_email = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="{kind: true to also receive it by e-mail}; kinds: "
        + ", ".join(NotificationKind.values),
    )


class NotificationPreferencesView(APIView):
    """Which notification kinds the caller also receives by e-mail."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request: Request) -> Response:
        prefs = notification_preferences_of(user=request_user(request))
        return Response(PreferencesSerializer({"by_email": prefs}).data)

    @extend_schema(request=PreferencesSerializer, responses=PreferencesSerializer)
    def put(self, request: Request) -> Response:
        data = PreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prefs = notification_preferences_set(
            user=request_user(request), by_email=data.validated_data["by_email"]
        )
        return Response(PreferencesSerializer({"by_email": prefs}).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path("notifications/", NotificationListView.as_view(), name="notifications"),
    path(
        "notifications/read-all/", NotificationReadAllView.as_view(), name="notifications-read-all"
    ),
    path(
        "notifications/preferences/",
        NotificationPreferencesView.as_view(),
        name="notifications-preferences",
    ),
    path(
        "notifications/<id:notification_id>/read/",
        NotificationReadView.as_view(),
        name="notification-read",
    ),
]
