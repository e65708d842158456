"""Appeals against rule actions: managers and administrators see and decide all; a person sees
their own (another person's appeal is "not found"). An appeal is made on the action
(`POST /rule-actions/{id}/appeal/`).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.filters import FilterSet
from core.api.routers import Router
from core.errors import PermissionDenied
from quality.api.rules import ACTION_KIND_HELP, TAGS, RulePersonSerializer
from quality.models import Appeal, AppealStatus
from quality.selectors import appeals_visible_to, can_manage_quality
from quality.services.actions import appeal_decide


class AppealSummarySerializer(serializers.ModelSerializer[Appeal]):
    # Words, not a second enum component: the appeal's own `status` enum is in Appeal.
    status = serializers.CharField(
        read_only=True, help_text=f"One of {', '.join(AppealStatus.values)}."
    )

    class Meta:
        model = Appeal
        fields = ["id", "status", "created_at", "decided_at", "decision_note"]
        read_only_fields = fields


class AppealSerializer(serializers.ModelSerializer[Appeal]):
    person = RulePersonSerializer(source="author", read_only=True)
    rule_name = serializers.CharField(source="action.rule.name", read_only=True)
    action_kind = serializers.CharField(
        source="action.kind", read_only=True, help_text=ACTION_KIND_HELP
    )

    class Meta:
        model = Appeal
        fields = [
            "id",
            "action",
            "action_kind",
            "rule_name",
            "person",
            "reason",
            "status",
            "created_at",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields


class AppealCreateSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=5000, help_text="Why the action is wrong.")


class AppealDecideSerializer(serializers.Serializer[Any]):
    uphold = serializers.BooleanField(
        help_text="true: reverse the action and restore what it took; false: it stands."
    )
    note = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when rejecting: the person is told why.",
    )


class AppealFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=AppealStatus.choices)

    class Meta:
        model = Appeal
        fields = ["status"]


@extend_schema(tags=TAGS)
class AppealViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Appeal]
):
    """Appeals against rule actions, oldest first: managers see and decide all, a person their own."""

    serializer_class = AppealSerializer
    permission_classes = BASE_PERMISSIONS
    filterset_class = AppealFilter
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet[Appeal]:
        return appeals_visible_to(self.request.user)

    @extend_schema(request=AppealDecideSerializer, responses=AppealSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        """Uphold (reverse the action, restore what it took) or reject (the action stands)."""
        if not can_manage_quality(request.user):
            raise PermissionDenied("Only managers and administrators decide appeals.")
        data = AppealDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = appeal_decide(
            appeal=self.get_object(),
            manager=request_user(request),
            uphold=data.validated_data["uphold"],
            note=data.validated_data["note"],
        )
        return Response(AppealSerializer(self.get_queryset().get(pk=decided.pk)).data)


router = Router()
router.register("appeals", AppealViewSet, basename="appeal")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
