"""The audit trail (administrators and finance): who changed what, when, before and after."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from rest_framework import serializers, viewsets

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action, audit_events_visible_to
from core.api.filters import FilterSet, IdFilter, TimestampFilter
from core.api.routers import Router
from core.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor_email = serializers.EmailField(
        source="actor.email", read_only=True, allow_null=True, default=None
    )
    target_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "before",
            "after",
            "ip_address",
        ]

    def get_target_type(self, event: AuditEvent) -> str:
        return f"{event.target_type.app_label}.{event.target_type.model}"


class AuditEventFilter(FilterSet):
    action = django_filters.CharFilter(lookup_expr="startswith")
    actor = IdFilter(field_name="actor_id")
    target_id = django_filters.CharFilter()
    since = TimestampFilter(field_name="occurred_at", lookup_expr="gte")
    until = TimestampFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "target_id", "since", "until"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet[AuditEvent]):
    """The audit trail: who changed what, when, before and after (administrators and finance)."""

    serializer_class = AuditEventSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.AUDIT_VIEW
    filterset_class = AuditEventFilter
    ordering_fields = ["occurred_at"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_events_visible_to(self.request.user)


router = Router()
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
