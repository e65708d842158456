"""Quality rules API (managers and administrators): rules and their dry runs.

Anyone else asking for rules is refused (403). The actions rules take on people and the appeals
against them are `quality.api.actions` and `quality.api.appeals`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from labeling.models import Project
from quality.models import QualityRule, RuleActionKind
from quality.selectors import can_manage_quality, quality_rules_visible_to
from quality.services.evaluation import rule_dry_run
from quality.services.rules import (
    RULE_FIELDS,
    rule_build,
    rule_create,
    rule_deactivate,
    rule_update,
)

# The OpenAPI tag of the rules, the actions they take and the appeals against those.
TAGS = ["quality rules"]
# An action's kind is the rule's `action` choice; it is documented in words, not as a second enum.
ACTION_KIND_HELP = f"What was done: one of {', '.join(RuleActionKind.values)}."


class ManagesQuality(BasePermission):
    """Managers and administrators only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return can_manage_quality(request.user)


class QualityRuleSerializer(serializers.ModelSerializer[QualityRule]):
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.all(),
        required=False,
        allow_null=True,
        help_text="Empty: a global rule over every project. Cannot change later.",
    )

    class Meta:
        model = QualityRule
        fields = [
            "id",
            *RULE_FIELDS,
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]
        extra_kwargs = {
            "metric": {
                "help_text": "What is measured. Earnings are not a metric yet: there is no "
                "payments ledger to read them from. The consensus model's scores "
                "(spammer_score, consensus_agreement, gold_accuracy_upper) need a project."
            },
            "threshold": {"help_text": "Shares (accuracy, rates, agreement) are 0..1."},
        }


class RulePersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class RuleHitSerializer(serializers.Serializer[Any]):
    person = RulePersonSerializer()
    value = serializers.FloatField(allow_null=True, help_text="Empty when nothing was measured.")
    sample = serializers.IntegerField(help_text="How many items the value rests on.")
    would_fire = serializers.BooleanField()


class QualityRuleFilter(FilterSet):
    project = IdFilter(field_name="project_id")
    is_global = django_filters.BooleanFilter(field_name="project", lookup_expr="isnull")

    class Meta:
        model = QualityRule
        fields = ["project", "is_global", "is_active", "metric", "action"]


def _rule_values(data: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value for name, value in data.items() if name in QualityRuleSerializer.Meta.fields
    }


@extend_schema(tags=TAGS)
class QualityRuleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[QualityRule],
):
    """Quality rules: a condition over a person's recent record, and the action when it holds."""

    serializer_class = QualityRuleSerializer
    permission_classes = [*BASE_PERMISSIONS, ManagesQuality]
    filterset_class = QualityRuleFilter
    ordering_fields = ["name", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[QualityRule]:
        return quality_rules_visible_to(self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = QualityRuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = rule_create(actor=request_user(request), **_rule_values(data.validated_data))
        return Response(QualityRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        data = QualityRuleSerializer(rule, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        rule = rule_update(rule=rule, actor=request_user(request), **data.validated_data)
        return Response(QualityRuleSerializer(rule).data)

    @extend_schema(request=None, responses=QualityRuleSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str | None = None) -> Response:
        """Stop evaluating the rule; the actions it took stay until they end or are lifted."""
        rule = rule_deactivate(rule=self.get_object(), actor=request_user(request))
        return Response(QualityRuleSerializer(rule).data)

    @extend_schema(responses=RuleHitSerializer(many=True))
    @action(
        detail=True, methods=["get"], url_path="dry-run", pagination_class=None, filter_backends=[]
    )
    def dry_run(self, request: Request, pk: str | None = None) -> Response:
        """Whom the rule would hit on the data as it is now; nothing changes."""
        hits = rule_dry_run(rule=self.get_object())
        return Response(RuleHitSerializer(hits, many=True).data)

    @extend_schema(request=QualityRuleSerializer, responses=RuleHitSerializer(many=True))
    @action(
        detail=False,
        methods=["post"],
        url_path="dry-run",
        pagination_class=None,
        filter_backends=[],
    )
    def dry_run_draft(self, request: Request) -> Response:
        """Dry-run a rule before saving it: whom it would hit; nothing is stored."""
        data = QualityRuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hits = rule_dry_run(rule=rule_build(**_rule_values(data.validated_data)))
        return Response(RuleHitSerializer(hits, many=True).data)


router = Router()
router.register("quality-rules", QualityRuleViewSet, basename="quality-rule")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
