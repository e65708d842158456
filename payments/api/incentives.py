"""The API of incentive programs, for finance: programs and their versions (a change is a new
version; nothing edits or deletes one), a period's preview, the close (queued as a job, its
progress on the period), and the lines of a period. Writes need MFA (BASE_PERMISSIONS, and the
services check it again). Amounts are integer minor units; shares are parts per million."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from core.timestamps import TIMESTAMP_HELP, TimestampInvalid, parse_timestamp
from kit.money import CURRENCY_EXPONENTS
from labeling.models import Project
from payments.api.earnings import IncentiveFiguresSerializer
from payments.incentive_rules import THRESHOLD_NAMES, BudgetPolicy, RewardKind
from payments.models import (
    IncentiveBonusLine,
    IncentivePeriod,
    IncentivePeriodKind,
    IncentiveProgram,
    IncentiveScope,
    IncentiveVersion,
)
from payments.selectors.earnings_pages import bonus_reason
from payments.selectors.incentives import incentive_periods_list, incentive_programs_list
from payments.services.incentives import (
    VersionSpec,
    incentive_period_close_start,
    incentive_period_preview,
    incentive_program_create,
    incentive_version_add,
)
from workforce.models import Team

TAGS = ["incentives"]


class IncentiveTierSerializer(serializers.Serializer[Any]):
    reward = serializers.IntegerField(
        min_value=1,
        help_text="A bonus in minor units, or a multiplier in parts per million of the "
        "period's earnings (100000 = +10%).",
    )
    min_final_tasks = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    min_active_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    min_gold_low_ppm = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="Parts per million (0..1000000)."
    )
    min_review_pass_ppm = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    min_agreement_ppm = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class IncentiveVersionSerializer(serializers.ModelSerializer[IncentiveVersion]):
    tiers = IncentiveTierSerializer(many=True, read_only=True)

    class Meta:
        model = IncentiveVersion
        fields = [
            "id",
            "program",
            "number",
            "effective_from",
            "kind",
            "tiers",
            "cap_minor",
            "budget_minor",
            "budget_policy",
            "note",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields


class IncentiveVersionInputSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=[k.value for k in RewardKind])
    tiers = IncentiveTierSerializer(many=True)
    cap_minor = serializers.IntegerField(required=False, allow_null=True, default=None)
    budget_minor = serializers.IntegerField(required=False, allow_null=True, default=None)
    budget_policy = serializers.ChoiceField(
        choices=[p.value for p in BudgetPolicy], default=BudgetPolicy.SCALE
    )
    effective_from = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Now or later, never before (empty: now)."
    )
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)

    def spec(self) -> VersionSpec:
        return self.spec_of(self.validated_data)

    @staticmethod
    def spec_of(data: dict[str, Any]) -> VersionSpec:
        """The version validated data describe (also the program's nested first version)."""
        tiers = [
            {
                "reward": tier["reward"],
                **{n: tier[n] for n in THRESHOLD_NAMES if tier.get(n) is not None},
            }
            for tier in data["tiers"]
        ]
        return VersionSpec(
            kind=data["kind"],
            tiers=tiers,
            cap_minor=data["cap_minor"],
            budget_minor=data["budget_minor"],
            budget_policy=data["budget_policy"],
            effective_from=data.get("effective_from"),
            note=data["note"],
        )


class IncentiveProgramSerializer(serializers.ModelSerializer[IncentiveProgram]):
    versions = IncentiveVersionSerializer(many=True, read_only=True)

    class Meta:
        model = IncentiveProgram
        fields = [
            "id",
            "name",
            "scope",
            "project",
            "team",
            "period",
            "currency",
            "created_at",
            "created_by",
            "versions",
        ]
        read_only_fields = fields


class IncentiveProgramInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    scope = serializers.ChoiceField(choices=IncentiveScope.choices)
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.all(), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    period = serializers.ChoiceField(choices=IncentivePeriodKind.choices)
    currency = serializers.ChoiceField(choices=sorted(CURRENCY_EXPONENTS))
    first_version = IncentiveVersionInputSerializer()


class IncentivePeriodStartSerializer(serializers.Serializer[Any]):
    period_start = serializers.CharField(
        help_text=f"The first moment of the period (00:00 UTC of its day or Monday). "
        f"{TIMESTAMP_HELP}"
    )

    def validate_period_start(self, value: str) -> Any:
        try:
            return parse_timestamp(value)
        except TimestampInvalid as exc:
            raise serializers.ValidationError(str(exc)) from exc


class IncentivePreviewLineSerializer(serializers.Serializer[Any]):
    person = serializers.IntegerField(source="user_id")
    tier = serializers.IntegerField(allow_null=True)
    computed_minor = serializers.IntegerField(help_text="What the tier gives, before the cap.")
    capped_minor = serializers.IntegerField(help_text="After the cap per person.")
    amount_minor = serializers.IntegerField(help_text="After the budget: what the close pays.")
    figures = IncentiveFiguresSerializer()


class IncentivePreviewSerializer(serializers.Serializer[Any]):
    program = serializers.IntegerField(source="program.pk")
    version = serializers.IntegerField(source="version.pk")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    currency = serializers.CharField(source="program.currency")
    budget_minor = serializers.IntegerField(allow_null=True)
    total_before_budget_minor = serializers.IntegerField()
    total_minor = serializers.IntegerField()
    lines = IncentivePreviewLineSerializer(many=True)


class IncentivePeriodSerializer(serializers.ModelSerializer[IncentivePeriod]):
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = IncentivePeriod
        fields = [
            "id",
            "program",
            "version",
            "starts_at",
            "ends_at",
            "status",
            "people_total",
            "people_done",
            "lines_computed",
            "lines_posted",
            "progress_percent",
            "awarded_before_budget_minor",
            "paid_minor",
            "started_at",
            "started_by",
            "closed_at",
        ]
        read_only_fields = fields


class IncentiveLineSerializer(serializers.ModelSerializer[IncentiveBonusLine]):
    person = serializers.IntegerField(source="user_id", read_only=True)
    figures = IncentiveFiguresSerializer(read_only=True)
    reason = serializers.SerializerMethodField()

    class Meta:
        model = IncentiveBonusLine
        fields = [
            "id",
            "period",
            "person",
            "version",
            "tier",
            "computed_minor",
            "capped_minor",
            "amount_minor",
            "transaction",
            "reason",
            "figures",
        ]
        read_only_fields = fields

    def get_reason(self, line: IncentiveBonusLine) -> str:
        return bonus_reason(line)


class IncentivePeriodFilter(FilterSet):
    program = IdFilter(field_name="program")

    class Meta:
        model = IncentivePeriod
        fields = ["program", "status"]


@extend_schema(tags=TAGS)
class IncentiveProgramViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[IncentiveProgram],
):
    """Incentive programs with their versions (finance)."""

    serializer_class = IncentiveProgramSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.INCENTIVES_MANAGE

    def get_queryset(self) -> QuerySet[IncentiveProgram]:
        return incentive_programs_list().prefetch_related("versions").order_by("pk")

    @extend_schema(
        request=IncentiveProgramInputSerializer, responses={201: IncentiveProgramSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = IncentiveProgramInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        program = incentive_program_create(
            actor=request_user(request),
            name=values["name"],
            scope=values["scope"],
            project=values.get("project"),
            team=values.get("team"),
            period=values["period"],
            currency=values["currency"],
            first_version=IncentiveVersionInputSerializer.spec_of(values["first_version"]),
        )
        shown = self.get_queryset().get(pk=program.pk)
        return Response(IncentiveProgramSerializer(shown).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=IncentiveVersionInputSerializer, responses={201: IncentiveVersionSerializer}
    )
    @action(detail=True, methods=["post"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """Add a version, in force from `effective_from` (now or later)."""
        data = IncentiveVersionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = incentive_version_add(
            actor=request_user(request), program=self.get_object(), spec=data.spec()
        )
        return Response(IncentiveVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[IncentivePeriodStartSerializer], responses={200: IncentivePreviewSerializer}
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """Who would get what in the period if it closed now (the close pays the same for the
        same figures), and the total against the budget."""
        query = IncentivePeriodStartSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        preview = incentive_period_preview(
            program=self.get_object(), starts_at=query.validated_data["period_start"]
        )
        return Response(IncentivePreviewSerializer(preview).data)

    @extend_schema(
        request=IncentivePeriodStartSerializer, responses={202: IncentivePeriodSerializer}
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        """Start closing an ended period (a job posts the bonuses; follow its progress on the
        period). Closing a closed period returns it and posts nothing."""
        data = IncentivePeriodStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        period = incentive_period_close_start(
            program=self.get_object(),
            starts_at=data.validated_data["period_start"],
            actor=request_user(request),
        )
        return Response(IncentivePeriodSerializer(period).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=TAGS)
class IncentivePeriodViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[IncentivePeriod]
):
    """Closed and closing periods with their progress (finance)."""

    serializer_class = IncentivePeriodSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.INCENTIVES_MANAGE
    filterset_class = IncentivePeriodFilter

    def get_queryset(self) -> QuerySet[IncentivePeriod]:
        return incentive_periods_list().order_by("-starts_at", "pk")

    @extend_schema(responses={200: IncentiveLineSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None)
    def lines(self, request: Request, pk: str | None = None) -> Response:
        """Every person's line of the period, in the budget's order, with the reason."""
        period = get_object_or_404(self.get_queryset(), pk=pk)
        lines = (
            IncentiveBonusLine.objects.filter(period=period)
            .select_related("period__program", "version")
            .order_by("rank_tier", "rank_final_tasks", "user_id")
        )
        page = self.paginate_queryset(lines)  # type: ignore[arg-type]  # the period's lines
        return self.get_paginated_response(IncentiveLineSerializer(page, many=True).data)  # type: ignore[arg-type]  # the period's lines


router = Router()
router.register("incentive-programs", IncentiveProgramViewSet, basename="incentive-program")
router.register("incentive-periods", IncentivePeriodViewSet, basename="incentive-period")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
