"""Quality rules API: rules and their dry runs (managers), actions taken on people, and appeals.

Managers and administrators write rules, dry-run them, see every action and decide appeals. A
person sees the actions taken on them (with the evidence that is safe to show) and appeals one;
another person's action or appeal is "not found". Anyone else asking for rules is refused (403).
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
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import MfaEnrolled
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from core.errors import PermissionDenied
from labeling.models import Project
from quality.models import (
    Appeal,
    AppealStatus,
    QualityRule,
    RuleAction,
    RuleActionKind,
    RuleActionState,
    RuleMetric,
)
from quality.selectors import (
    appeals_visible_to,
    can_manage_quality,
    evidence_visible_to,
    quality_rules_visible_to,
    rule_actions_visible_to,
)
from quality.services.actions import appeal_decide, rule_action_appeal, rule_action_lift
from quality.services.evaluation import rule_dry_run
from quality.services.rules import (
    RULE_FIELDS,
    rule_build,
    rule_create,
    rule_deactivate,
    rule_update,
)

_TAGS = ["quality rules"]
_BASE = [IsAuthenticated, MfaEnrolled]
# An action's kind is the rule's `action` choice; it is documented in words, not as a second enum.
_KIND_HELP = f"What was done: one of {', '.join(RuleActionKind.values)}."


class ManagesQuality(BasePermission):
    """Managers and administrators only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return can_manage_quality(request.user)


# --- Serializers ----------------------------------------------------------------------------


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
                "payments ledger to read them from."
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


class AppealSummarySerializer(serializers.ModelSerializer[Appeal]):
    # Words, not a second enum component: the appeal's own `status` enum is in Appeal.
    status = serializers.CharField(
        read_only=True, help_text=f"One of {', '.join(AppealStatus.values)}."
    )

    class Meta:
        model = Appeal
        fields = ["id", "status", "created_at", "decided_at", "decision_note"]
        read_only_fields = fields


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
    kind = serializers.CharField(read_only=True, help_text=_KIND_HELP)
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


class AppealSerializer(serializers.ModelSerializer[Appeal]):
    person = RulePersonSerializer(source="author", read_only=True)
    rule_name = serializers.CharField(source="action.rule.name", read_only=True)
    action_kind = serializers.CharField(source="action.kind", read_only=True, help_text=_KIND_HELP)

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


class NoteSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


# --- Views ----------------------------------------------------------------------------------


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


@extend_schema(tags=_TAGS)
class QualityRuleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[QualityRule],
):
    """Quality rules: a condition over a person's recent record, and the action when it holds."""

    serializer_class = QualityRuleSerializer
    permission_classes = [*_BASE, ManagesQuality]
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


@extend_schema(tags=_TAGS)
class RuleActionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[RuleAction]
):
    """Actions rules took on people, newest first: managers see all, a person their own."""

    serializer_class = RuleActionSerializer
    permission_classes = _BASE
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


class AppealFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=AppealStatus.choices)

    class Meta:
        model = Appeal
        fields = ["status"]


@extend_schema(tags=_TAGS)
class AppealViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Appeal]
):
    """Appeals against rule actions, oldest first: managers see and decide all, a person their own."""

    serializer_class = AppealSerializer
    permission_classes = _BASE
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
router.register("quality-rules", QualityRuleViewSet, basename="quality-rule")
router.register("rule-actions", RuleActionViewSet, basename="rule-action")
router.register("appeals", AppealViewSet, basename="appeal")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
