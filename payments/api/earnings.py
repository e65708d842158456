"""The API of earnings, read-only: a person's summary, a line per day and project, bonuses with
their reasons and figures, and statements per month. A person reads their own (their user id
in the URL); finance reads anyone's; anyone else gets 404 for another person. Amounts are
integer micro-units with a display string, never floats. Nothing here writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.models import User
from core.timestamps import TIMESTAMP_HELP, TimestampInvalid, parse_timestamp
from payments.selectors.earnings_pages import (
    BonusRow,
    DayLine,
    earnings_bonus_rows,
    earnings_day_lines,
    earnings_person_visible_to,
    earnings_statement,
    earnings_statement_months,
    earnings_summary,
)

TAGS = ["earnings"]
MICROS_HELP = "Micro-units (1e-6 of a major unit) of the currency; an integer, never a float."
NOT_FOUND = OpenApiResponse(description="No such person among those whose earnings you read.")


def _person(request: Request, person_id: int) -> User:
    person = earnings_person_visible_to(request.user, person_id)
    if person is None:
        raise Http404
    return person


class EarningsSummarySerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    today_micros = serializers.IntegerField(help_text=MICROS_HELP)
    week_micros = serializers.IntegerField(help_text=MICROS_HELP)
    pending_micros = serializers.IntegerField(help_text=MICROS_HELP)
    payable_micros = serializers.IntegerField(help_text=MICROS_HELP)
    in_transit_micros = serializers.IntegerField(help_text=MICROS_HELP)
    paid_micros = serializers.IntegerField(help_text=MICROS_HELP)
    today = serializers.CharField(help_text="For people to read, e.g. '12.3456 USD'.")
    week = serializers.CharField()
    pending = serializers.CharField()
    payable = serializers.CharField()
    in_transit = serializers.CharField()
    paid = serializers.CharField()


class EarningsDayLineSerializer(serializers.Serializer[DayLine]):
    day = serializers.DateField(help_text="The UTC day.")
    project = serializers.IntegerField(source="project_id", allow_null=True)
    project_name = serializers.CharField()
    title = serializers.CharField(
        help_text="What the line is: the project's name, or for training and test time "
        "'Training module <name> in <project>' / 'Qualification test <name> in <project>'."
    )
    currency = serializers.CharField()
    pieces = serializers.IntegerField(help_text="Pieces of work accrued that day.")
    earned_micros = serializers.IntegerField(help_text=MICROS_HELP)
    reversed_micros = serializers.IntegerField(help_text=f"Negative or 0. {MICROS_HELP}")
    net_micros = serializers.IntegerField(help_text=MICROS_HELP)
    earned = serializers.CharField()
    reversed = serializers.CharField()
    net = serializers.CharField()


class IncentiveCheckSerializer(serializers.Serializer[Any]):
    threshold = serializers.CharField()
    name = serializers.CharField(source="label", help_text="The measure, for people to read.")
    at_least = serializers.IntegerField(
        source="required", help_text="Counts as is; shares in parts per million."
    )
    actual = serializers.IntegerField(allow_null=True)
    met = serializers.BooleanField()


class IncentiveFiguresSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    final_tasks = serializers.IntegerField()
    active_seconds = serializers.IntegerField()
    gold_scored = serializers.IntegerField()
    gold_accuracy_low_ppm = serializers.IntegerField(allow_null=True)
    reviews = serializers.IntegerField()
    review_pass_rate_ppm = serializers.IntegerField(allow_null=True)
    agreement_count = serializers.IntegerField()
    agreement_ppm = serializers.IntegerField(allow_null=True)
    earnings_minor = serializers.IntegerField()
    checks = IncentiveCheckSerializer(many=True)


class EarningsBonusSerializer(serializers.Serializer[BonusRow]):
    id = serializers.IntegerField(source="line.pk")
    program = serializers.IntegerField(source="line.period.program_id")
    program_name = serializers.CharField(source="line.period.program.name")
    period_start = serializers.DateTimeField(source="line.period.starts_at")
    period_end = serializers.DateTimeField(source="line.period.ends_at")
    version = serializers.IntegerField(source="line.version_id")
    version_number = serializers.IntegerField(source="line.version.number")
    tier = serializers.IntegerField(source="line.tier", allow_null=True)
    currency = serializers.CharField()
    amount_minor = serializers.IntegerField(
        source="line.amount_minor", help_text="Minor units of the currency."
    )
    amount = serializers.CharField()
    reason = serializers.CharField()
    figures = IncentiveFiguresSerializer(source="line.figures")
    transaction = serializers.IntegerField(source="line.transaction_id", allow_null=True)


class StatementTotalSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    earned_micros = serializers.IntegerField(help_text=MICROS_HELP)
    reversed_micros = serializers.IntegerField(help_text=MICROS_HELP)
    bonus_micros = serializers.IntegerField(help_text=MICROS_HELP)
    total_micros = serializers.IntegerField(help_text=MICROS_HELP)
    total = serializers.CharField()


class EarningsStatementSerializer(serializers.Serializer[Any]):
    person = serializers.IntegerField(source="user_id")
    month = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    lines = EarningsDayLineSerializer(many=True)
    bonuses = EarningsBonusSerializer(many=True)
    totals = StatementTotalSerializer(many=True)


class StatementMonthSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="YYYY-MM")


class EarningsLinesQuerySerializer(serializers.Serializer[Any]):
    since = serializers.CharField(required=False, help_text=f"From. {TIMESTAMP_HELP}")
    until = serializers.CharField(required=False, help_text=f"Until, excluded. {TIMESTAMP_HELP}")

    def validate_since(self, value: str) -> datetime:
        return _moment(value)

    def validate_until(self, value: str) -> datetime:
        return _moment(value)


def _moment(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except TimestampInvalid as exc:
        raise serializers.ValidationError(str(exc)) from exc


class _PersonView(generics.GenericAPIView[Any]):
    permission_classes = BASE_PERMISSIONS
    filter_backends: list[Any] = []


@extend_schema(tags=TAGS, responses={200: EarningsSummarySerializer(many=True), 404: NOT_FOUND})
class EarningsSummaryView(_PersonView):
    """Per currency: earned today and this week, and the pending, payable, in-transit and paid
    balances."""

    serializer_class = EarningsSummarySerializer
    pagination_class = None

    def get(self, request: Request, person_id: int) -> Response:
        summaries = earnings_summary(_person(request, person_id).pk, now=timezone.now())
        return Response(EarningsSummarySerializer(summaries, many=True).data)


@extend_schema(
    tags=TAGS,
    parameters=[EarningsLinesQuerySerializer],
    responses={200: EarningsDayLineSerializer(many=True), 404: NOT_FOUND},
)
class EarningsLinesView(_PersonView, generics.ListAPIView[Any]):
    """A line per UTC day, project and currency (newest first): earned, reversed and net."""

    serializer_class = EarningsDayLineSerializer

    def get_queryset(self) -> Any:
        query = EarningsLinesQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        person = _person(self.request, self.kwargs["person_id"])
        return earnings_day_lines(
            person.pk,
            since=query.validated_data.get("since"),
            until=query.validated_data.get("until"),
        )


@extend_schema(tags=TAGS, responses={200: EarningsBonusSerializer(many=True), 404: NOT_FOUND})
class EarningsBonusesView(_PersonView, generics.ListAPIView[Any]):
    """The bonus lines of closed periods, newest first, each with its reason and the figures
    that produced it."""

    serializer_class = EarningsBonusSerializer

    def get_queryset(self) -> Any:
        return earnings_bonus_rows(_person(self.request, self.kwargs["person_id"]).pk)


@extend_schema(tags=TAGS, responses={200: StatementMonthSerializer(many=True), 404: NOT_FOUND})
class EarningsStatementsView(_PersonView):
    """The months (newest first) that have a statement."""

    serializer_class = StatementMonthSerializer
    pagination_class = None

    def get(self, request: Request, person_id: int) -> Response:
        months = earnings_statement_months(_person(request, person_id).pk)
        return Response(StatementMonthSerializer([{"month": m} for m in months], many=True).data)


@extend_schema(tags=TAGS, responses={200: EarningsStatementSerializer, 404: NOT_FOUND})
class EarningsStatementView(_PersonView):
    """The statement of a month: its lines, its bonuses and its totals per currency, which are
    the sums of the person's ledger entries."""

    serializer_class = EarningsStatementSerializer
    pagination_class = None

    def get(self, request: Request, person_id: int, month: str) -> Response:
        statement = earnings_statement(_person(request, person_id).pk, month=month)
        if statement is None:
            raise Http404
        return Response(EarningsStatementSerializer(statement).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "earnings/people/<id:person_id>/summary/",
        EarningsSummaryView.as_view(),
        name="earnings-summary",
    ),
    path(
        "earnings/people/<id:person_id>/lines/",
        EarningsLinesView.as_view(),
        name="earnings-lines",
    ),
    path(
        "earnings/people/<id:person_id>/bonuses/",
        EarningsBonusesView.as_view(),
        name="earnings-bonuses",
    ),
    path(
        "earnings/people/<id:person_id>/statements/",
        EarningsStatementsView.as_view(),
        name="earnings-statements",
    ),
    path(
        "earnings/people/<id:person_id>/statements/<str:month>/",
        EarningsStatementView.as_view(),
        name="earnings-statement",
    ),
]
