"""Rate cards: finance and managers read cards and their versions; finance (with MFA) adds a
version or withdraws one not yet in force; the lookup answers what a person earns for a piece of
work on a project at a moment. Money is integer micro-units plus a display string, never a float.

A manager sees the cards of the projects they manage (and those customers' defaults); anyone
else is refused (403). Nothing edits or deletes a version: a change is a new version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.models import User
from accounts.permissions import PolicyAllows
from accounts.policy import Action, can, users_visible_to
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from core.timestamps import TIMESTAMP_HELP, TimestampInvalid, parse_timestamp
from kit.money import CURRENCY_EXPONENTS, Micros, format_micros
from labeling.models import Customer, Project
from labeling.policy import projects_managed_by
from payments.models import Rate, RateCard, RateCardVersion, RateUnit, WorkKind
from payments.policy import rate_cards_visible_to, rate_versions_visible_to
from payments.selectors.rates import RateMatch, VersionStatus, rate_version_status
from payments.services.rates import (
    RateSpec,
    rate_card_version_create,
    rate_card_version_withdraw,
    rate_lookup,
)

TAGS = ["rate cards"]
MICROS_HELP = "Micro-units (1e-6 of a major unit) of the currency; an integer, never a float."


class MicrosField(serializers.IntegerField):
    """An amount in micro-units: a JSON integer only (a float or a string is refused)."""

    default_error_messages = {
        "not_integer": "Send an integer number of micro-units (e.g. 3500 for 0.0035), "
        "not a float or a string."
    }

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("not_integer")
        value: int = super().to_internal_value(data)
        return value


def _display(micros: int, currency: str) -> str:
    return format_micros(Micros(micros, currency))


class RateSerializer(serializers.ModelSerializer[Rate]):
    amount_micros = serializers.IntegerField(read_only=True, help_text=MICROS_HELP)
    amount_display = serializers.SerializerMethodField(
        help_text="The amount for people to read, e.g. '0.0035 USD'."
    )

    class Meta:
        model = Rate
        fields = [
            "id",
            "work_kind",
            "review_level",
            "tier",
            "min_skill_level",
            "unit",
            "amount_micros",
            "amount_display",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_amount_display(self, rate: Rate) -> str:
        return _display(rate.amount_micros, rate.version.currency)


class RateCardVersionSerializer(serializers.ModelSerializer[RateCardVersion]):
    customer = serializers.IntegerField(source="card.customer_id", read_only=True)
    project = serializers.IntegerField(
        source="card.project_id",
        read_only=True,
        allow_null=True,
        help_text="Empty: the customer's default card.",
    )
    status = serializers.SerializerMethodField(
        help_text="scheduled (not yet in force), in_force, superseded (a later version took "
        "over) or withdrawn (never applied)."
    )
    ends_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the card's next version takes over; empty while none is planned.",
    )
    rates = RateSerializer(many=True, read_only=True)

    class Meta:
        model = RateCardVersion
        fields = [
            "id",
            "card",
            "customer",
            "project",
            "number",
            "effective_from",
            "ends_at",
            "status",
            "currency",
            "note",
            "created_at",
            "created_by",
            "withdrawn_at",
            "withdrawn_by",
            "withdraw_reason",
            "rates",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=VersionStatus.choices))
    def get_status(self, version: RateCardVersion) -> str:
        return rate_version_status(version).value


class RateCardSerializer(serializers.ModelSerializer[RateCard]):
    is_customer_default = serializers.BooleanField(read_only=True)
    current_version = serializers.IntegerField(
        source="current_version_id",
        read_only=True,
        allow_null=True,
        help_text="The version in force now; empty before the first one starts.",
    )

    class Meta:
        model = RateCard
        fields = [
            "id",
            "customer",
            "project",
            "is_customer_default",
            "current_version",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields


class RateInputSerializer(serializers.Serializer[Any]):
    work_kind = serializers.ChoiceField(choices=WorkKind.choices)
    review_level = serializers.IntegerField(
        required=False, default=0, min_value=0, help_text="Review work only; 0: any level."
    )
    tier = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=20,
        help_text='"annotator", "reviewer-<level>" or "lead"; empty: any tier.',
    )
    min_skill_level = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        help_text="People at least at this level of the project's skill; 0: any level.",
    )
    unit = serializers.ChoiceField(choices=RateUnit.choices)
    amount_micros = MicrosField(help_text=MICROS_HELP)


class RateCardVersionCreateSerializer(serializers.Serializer[Any]):
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        required=False,
        allow_null=True,
        help_text="For the customer's default card (leave out with a project).",
    )
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.all(),
        required=False,
        allow_null=True,
        help_text="For the project's own card.",
    )
    effective_from = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the version starts to apply: now or later, never before (empty: now).",
    )
    currency = serializers.ChoiceField(choices=sorted(CURRENCY_EXPONENTS))
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)
    rates = RateInputSerializer(many=True, help_text="The complete set of rates from then on.")


class WithdrawSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500)


class RateCardFilter(FilterSet):
    customer = IdFilter(field_name="customer")
    project = IdFilter(field_name="project")
    is_customer_default = django_filters.BooleanFilter(field_name="project", lookup_expr="isnull")

    class Meta:
        model = RateCard
        fields = ["customer", "project", "is_customer_default"]


class RateCardVersionFilter(FilterSet):
    card = IdFilter(field_name="card")
    customer = IdFilter(field_name="card__customer")
    project = IdFilter(field_name="card__project")

    class Meta:
        model = RateCardVersion
        fields = ["card", "customer", "project", "currency"]


@extend_schema(tags=TAGS)
class RateCardViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[RateCard]
):
    """Rate cards: one per project that has its own, one default per customer."""

    serializer_class = RateCardSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.RATES_VIEW
    filterset_class = RateCardFilter

    def get_queryset(self) -> QuerySet[RateCard]:
        return rate_cards_visible_to(self.request.user)


@extend_schema(tags=TAGS)
class RateCardVersionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[RateCardVersion],
):
    """Versions of rate cards with their rates, newest first within a card. Finance adds a
    version (which creates the card the first time) and withdraws one not yet in force."""

    serializer_class = RateCardVersionSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    filterset_class = RateCardVersionFilter

    @property
    def policy_action(self) -> Action:
        return Action.RATES_MANAGE if self.action in {"create", "withdraw"} else Action.RATES_VIEW

    def get_queryset(self) -> QuerySet[RateCardVersion]:
        return rate_versions_visible_to(self.request.user).order_by(
            "card_id", "-effective_from", "-pk"
        )

    @extend_schema(request=RateCardVersionCreateSerializer, responses=RateCardVersionSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RateCardVersionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = rate_card_version_create(
            actor=request_user(request),
            customer=values.get("customer"),
            project=values.get("project"),
            effective_from=values.get("effective_from"),
            currency=values["currency"],
            note=values["note"],
            rates=[RateSpec(**rate) for rate in values["rates"]],
        )
        shown = self.get_queryset().get(pk=version.pk)
        return Response(RateCardVersionSerializer(shown).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WithdrawSerializer, responses=RateCardVersionSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw a version not yet in force (409 once it is): it will never apply."""
        data = WithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = rate_card_version_withdraw(
            version=self.get_object(),
            actor=request_user(request),
            reason=data.validated_data["reason"],
        )
        return Response(RateCardVersionSerializer(self.get_queryset().get(pk=version.pk)).data)


class TimestampField(serializers.CharField):
    """An ISO 8601 date or time read by the API's one strict reader (`core.timestamps`)."""

    def to_internal_value(self, data: Any) -> datetime:  # type: ignore[override]  # a datetime, not text
        text = super().to_internal_value(data)
        try:
            return parse_timestamp(text)
        except TimestampInvalid as exc:
            raise serializers.ValidationError(str(exc)) from exc


class RateLookupQuerySerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(min_value=1, help_text="The project's id.")
    person = serializers.IntegerField(min_value=1, help_text="The person's user id.")
    work_kind = serializers.ChoiceField(choices=WorkKind.choices)
    review_level = serializers.IntegerField(
        required=False, min_value=1, help_text="Review work: the level reviewed."
    )
    at = TimestampField(required=False, help_text=f"The moment; default now. {TIMESTAMP_HELP}")


class RateLookupSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField()
    person = serializers.IntegerField()
    work_kind = serializers.ChoiceField(choices=WorkKind.choices)
    review_level = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField()
    applies = serializers.BooleanField(help_text="False: no rate prices this work (not paid).")
    card = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(
        allow_null=True, help_text="The version an earning for this work records."
    )
    rate = serializers.IntegerField(allow_null=True)
    unit = serializers.ChoiceField(choices=RateUnit.choices, allow_null=True)
    currency = serializers.CharField(allow_null=True)
    amount_micros = serializers.IntegerField(allow_null=True, help_text=MICROS_HELP)
    amount_display = serializers.CharField(allow_null=True)


@extend_schema(tags=TAGS)
class RateLookupView(generics.GenericAPIView[Any]):
    """What a person earns for one piece of work on a project at a moment, and which rate card
    version says so: the same lookup accrual uses."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.RATES_VIEW
    serializer_class = RateLookupSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[RateLookupQuerySerializer],
        responses={
            200: RateLookupSerializer,
            404: OpenApiResponse(description="No such project or person among those you see."),
        },
    )
    def get(self, request: Request) -> Response:
        query = RateLookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        at = values.get("at") or timezone.now()
        project = get_object_or_404(_projects_for(request), pk=values["project"])
        person = get_object_or_404(_people_for(request), pk=values["person"])
        match = rate_lookup(
            project=project,
            person=person,
            work_kind=values["work_kind"],
            review_level=values.get("review_level"),
            at=at,
        )
        return Response(
            RateLookupSerializer(_lookup_answer(values, project, person, match, at)).data
        )


def _projects_for(request: Request) -> QuerySet[Project]:
    """Finance prices any project; a manager those they manage."""
    if can(request.user, Action.RATES_MANAGE):
        return Project.objects.all()
    return projects_managed_by(request.user)


def _people_for(request: Request) -> QuerySet[User]:
    """Finance prices anyone's work; a manager that of the people they see."""
    if can(request.user, Action.RATES_MANAGE):
        return User.objects.all()
    return users_visible_to(request.user)


def _lookup_answer(
    values: dict[str, Any], project: Project, person: Any, match: RateMatch | None, at: datetime
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "project": project.pk,
        "person": person.pk,
        "work_kind": values["work_kind"],
        "review_level": values.get("review_level"),
        "at": at,
        "applies": match is not None,
        "card": None,
        "version": None,
        "rate": None,
        "unit": None,
        "currency": None,
        "amount_micros": None,
        "amount_display": None,
    }
    if match is not None:
        answer.update(
            card=match.version.card_id,
            version=match.version.pk,
            rate=match.rate.pk,
            unit=match.unit.value,
            currency=match.amount.currency,
            amount_micros=match.amount.amount,
            amount_display=format_micros(match.amount),
        )
    return answer


router = Router()
router.register("rate-cards", RateCardViewSet, basename="rate-card")
router.register("rate-card-versions", RateCardVersionViewSet, basename="rate-card-version")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("rate-lookup/", RateLookupView.as_view(), name="rate-lookup"),
]
