"""Actions quality rules took on people: managers and administrators see and lift all; a person
sees their own (with the evidence that is safe to show) and appeals one. Another person's action
is "not found".
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from core.errors import PermissionDenied
from quality.api.appeals import AppealCreateSerializer, AppealSerializer, AppealSummarySerializer
from quality.api.rules import ACTION_KIND_HELP, TAGS, RulePersonSerializer
from quality.models import RuleAction, RuleActionKind, RuleActionState, RuleMetric
from quality.selectors import (
    appeals_visible_to,
    can_manage_quality,
    evidence_visible_to,
    rule_actions_visible_to,
)
from quality.services.actions import rule_action_appeal, rule_action_lift


@extend_schema_field(OpenApiTypes.OBJECT)
class EvidenceField(serializers.Field):
    """The evidence of an action as the requesting user may see it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: RuleAction) -> dict[str, Any]:
        request = self.context.get("request")
        return evidence_visible_to(request.user if request is not None else None, value)


class RuleActionSerializer(serializers.ModelSerializer[RuleAction]):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    person = RulePersonSerializer(source="user", read_only=True)
    evidence = EvidenceField(
        help_text="The rule as it was, the value, the sample and (where safe to show) the items."
    )
    kind = serializers.CharField(read_only=True, help_text=ACTION_KIND_HELP)
    appeal = serializers.SerializerMethodField()

    class Meta:
        model = RuleAction
        fields = [
            "id",
            "rule",
            "rule_name",
            "person",
            "project",
            "kind",
            "state",
            "metric_value",
            "sample_size",
            "evidence",
            "taken_at",
            "expires_at",
            "ended_at",
            "end_note",
            "appeal",
        ]
        read_only_fields = fields

    @extend_schema_field(AppealSummarySerializer(allow_null=True))
    def get_appeal(self, action: RuleAction) -> dict[str, Any] | None:
        appeal = getattr(action, "appeal", None)
        return AppealSummarySerializer(appeal).data if appeal is not None else None


class NoteSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class RuleActionFilter(FilterSet):
    state = django_filters.ChoiceFilter(choices=RuleActionState.choices)
    kind = django_filters.ChoiceFilter(choices=RuleActionKind.choices)
    metric = django_filters.ChoiceFilter(
        field_name="rule__metric", choices=RuleMetric.choices, label="metric"
    )
    person = IdFilter(field_name="user_id")
    rule = IdFilter(field_name="rule_id")
    project = IdFilter(field_name="project_id")

    class Meta:
        model = RuleAction
        fields = ["state", "kind", "metric", "person", "rule", "project"]


@extend_schema(tags=TAGS)
class RuleActionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[RuleAction]
):
    """Actions rules took on people, newest first: managers see all, a person their own."""

    serializer_class = RuleActionSerializer
    permission_classes = BASE_PERMISSIONS
    filterset_class = RuleActionFilter
    ordering_fields = ["taken_at"]

    def get_queryset(self) -> QuerySet[RuleAction]:
        return rule_actions_visible_to(self.request.user)

    @extend_schema(request=NoteSerializer, responses=RuleActionSerializer)
    @action(detail=True, methods=["post"])
    def lift(self, request: Request, pk: str | None = None) -> Response:
        """End the action now and restore what it took (managers)."""
        if not can_manage_quality(request.user):
            raise PermissionDenied("Only managers and administrators lift actions.")
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lifted = rule_action_lift(
            action=self.get_object(),
            manager=request_user(request),
            note=data.validated_data["note"],
        )
        lifted = self.get_queryset().get(pk=lifted.pk)
        return Response(RuleActionSerializer(lifted, context={"request": request}).data)

    @extend_schema(request=AppealCreateSerializer, responses={201: AppealSerializer})
    @action(detail=True, methods=["post"])
    def appeal(self, request: Request, pk: str | None = None) -> Response:
        """Appeal an action taken on you (once, while it is active); a manager decides."""
        data = AppealCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = rule_action_appeal(
            action=self.get_object(),
            user=request_user(request),
            reason=data.validated_data["reason"],
        )
        appeal = appeals_visible_to(request.user).get(pk=appeal.pk)
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)


router = Router()
router.register("rule-actions", RuleActionViewSet, basename="rule-action")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
