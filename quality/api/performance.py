"""Performance measures from the hourly rollups, scoped as `quality.performance.selectors` says.

`GET /performance/people/` (each person in scope), `GET /performance/people/{id}/` (one person;
404 outside the scope), `GET /performance/teams/`, `GET /performance/projects/` (with the stored
Krippendorff's alpha), `GET /performance/customers/`, and `GET /performance/measures/` (every
measure's definition). Lists take `since` and `until` (ISO dates or times; default the last 7
days), `period` (hour, day, week or all) and the filters `project`, `team` and `person` where
they apply; they are paginated. Definitions and formulas: docs/measures.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from core.api.pagination import PageNumberPagination
from core.converters import MAX_ID
from core.errors import ValidationFailed
from core.timestamps import TIMESTAMP_HELP, TimestampInvalid, parse_timestamp
from quality.performance import selectors
from quality.performance.definitions import DEFINITIONS, MEASURE_NAMES, TIME_BUCKET_EDGES
from quality.performance.selectors import GRAINS, MeasureRow, Span

TAGS = ["performance"]
SORTS = [order for name in MEASURE_NAMES for order in (name, f"-{name}")]
DEFAULT_DAYS = 7
# The longest span one request reads: a year by day or week, a month by hour.
MAX_SPAN = {"hour": timedelta(days=31)}
MAX_SPAN_DEFAULT = timedelta(days=366)


class SpanQuerySerializer(serializers.Serializer[Any]):
    since = serializers.CharField(
        required=False, help_text=f"Start (inclusive, rounded down to the hour). {TIMESTAMP_HELP}"
    )
    until = serializers.CharField(
        required=False, help_text="End (exclusive, rounded up to the hour). Default: now."
    )
    period = serializers.ChoiceField(
        choices=GRAINS,
        required=False,
        default="all",
        help_text="One row per subject for the whole span (all), or per hour, UTC day or week.",
    )
    sort = serializers.ChoiceField(
        choices=SORTS,
        required=False,
        help_text='A measure\'s name to order by, "-" first for descending; rows without a '
        "value come last. Default: by subject, then period.",
    )


class ProjectQuerySerializer(SpanQuerySerializer):
    project = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this project's work."
    )


class TeamQuerySerializer(ProjectQuerySerializer):
    team = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this team's members."
    )


class PeopleQuerySerializer(TeamQuerySerializer):
    person = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this person."
    )


class PerformanceMeasuresSerializer(serializers.Serializer[Any]):
    submissions = serializers.IntegerField()
    final_tasks = serializers.IntegerField()
    active_hours = serializers.FloatField()
    submissions_per_active_hour = serializers.FloatField(allow_null=True)
    final_tasks_per_active_hour = serializers.FloatField(allow_null=True)
    time_per_task_median = serializers.FloatField(allow_null=True, help_text="Seconds.")
    time_per_task_p90 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    gold_accuracy = serializers.FloatField(allow_null=True)
    gold_accuracy_low = serializers.FloatField(allow_null=True, help_text="95% Wilson, low.")
    gold_accuracy_high = serializers.FloatField(allow_null=True, help_text="95% Wilson, high.")
    review_pass_rate = serializers.FloatField(allow_null=True)
    correction_rate = serializers.FloatField(allow_null=True)
    rework_rate = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(allow_null=True, help_text="With the consensus (0..1).")
    skips = serializers.IntegerField()
    lease_expiries = serializers.IntegerField()
    cost_per_final_task_minor = serializers.IntegerField(
        allow_null=True, help_text="Null until payments provides costs."
    )
    earnings_per_active_hour_minor = serializers.IntegerField(
        allow_null=True, help_text="Null until payments provides earnings."
    )


class PerformanceCountersSerializer(serializers.Serializer[Any]):
    submissions = serializers.IntegerField()
    reworks = serializers.IntegerField()
    final_tasks = serializers.IntegerField()
    active_seconds = serializers.IntegerField()
    gold_scored = serializers.IntegerField()
    gold_score_micros = serializers.IntegerField(help_text="Sum of gold scores, millionths.")
    reviews_passed = serializers.IntegerField()
    reviews_failed = serializers.IntegerField()
    corrections = serializers.IntegerField()
    agreement_count = serializers.IntegerField()
    agreement_micros = serializers.IntegerField(help_text="Sum of agreement scores, millionths.")
    skips = serializers.IntegerField()
    lease_expiries = serializers.IntegerField()
    time_histogram = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=f"Submissions by active seconds; bucket lower edges {list(TIME_BUCKET_EDGES)}.",
    )


class PerformanceAgreementSerializer(serializers.Serializer[Any]):
    alpha = serializers.FloatField(allow_null=True)
    alpha_label = serializers.CharField(source="label", help_text="What `alpha` is.")
    note = serializers.CharField()
    computed_at = serializers.DateTimeField()


class PerformanceRowSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(help_text="person, team, project or customer.")
    subject = serializers.CharField(
        help_text="The id; for a customer's view of a person, their anonymous id."
    )
    name = serializers.CharField(allow_null=True, help_text="Shown to labeling staff only.")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    measures = PerformanceMeasuresSerializer()
    counters = PerformanceCountersSerializer(source="counters.as_dict")
    agreement = PerformanceAgreementSerializer(
        allow_null=True, help_text="Projects only: the stored alpha."
    )


class MeasureDefinitionSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField(source="label")
    unit = serializers.CharField()
    direction = serializers.CharField(help_text="higher, lower (is better) or neutral.")
    formula = serializers.CharField()


def _moment(data: dict[str, Any], name: str, default: datetime) -> datetime:
    raw = data.get(name)
    if not raw:
        return default
    try:
        return parse_timestamp(raw)
    except TimestampInvalid as exc:
        raise ValidationFailed(f"{name}: {exc}", fields={name: [str(exc)]}) from None


def _query(
    request: Request, query: type[SpanQuerySerializer] = SpanQuerySerializer
) -> tuple[Span, dict[str, Any]]:
    given = query(data=request.query_params)
    if not given.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in given.errors.items()}
        first = next(iter(fields))
        raise ValidationFailed(f"{first}: {fields[first][0]}", fields=fields)
    data = given.validated_data
    until = _moment(data, "until", timezone.now())
    since = _moment(data, "since", until - timedelta(days=DEFAULT_DAYS))
    if since >= until:
        message = "Give a start before the end (until)."
        raise ValidationFailed(f"since: {message}", fields={"since": [message]})
    grain = data["period"]
    longest = MAX_SPAN.get(grain, MAX_SPAN_DEFAULT)
    if until - since > longest:
        message = f"At most {longest.days} days by {grain}."
        raise ValidationFailed(f"since: {message}", fields={"since": [message]})
    return Span.of(since, until, grain), data


class _MeasuresView(GenericAPIView[Any]):
    permission_classes = BASE_PERMISSIONS
    serializer_class = PerformanceRowSerializer
    pagination_class = PageNumberPagination
    filter_backends: list[Any] = []

    def _page(self, rows: list[MeasureRow]) -> Response:
        rows = selectors.rows_sorted(rows, self.request.query_params.get("sort"))
        page = self.paginate_queryset(rows) or []
        return self.get_paginated_response(PerformanceRowSerializer(page, many=True).data)


@extend_schema(tags=TAGS)
class PeopleMeasuresView(_MeasuresView):
    """Each person's measures: every person a manager manages, everyone for an administrator,
    the people who worked on a customer's projects by anonymous id, oneself for anyone else."""

    @extend_schema(
        parameters=[PeopleQuerySerializer], responses=PerformanceRowSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        span, data = _query(request, PeopleQuerySerializer)
        rows = selectors.person_measures(
            request.user,
            span=span,
            project_id=data.get("project"),
            team_id=data.get("team"),
            person_id=data.get("person"),
        )
        return self._page(rows)


@extend_schema(tags=TAGS)
class PersonMeasuresView(_MeasuresView):
    """One person's measures by period; 404 for a person outside your scope."""

    @extend_schema(
        operation_id="performance_person_list",
        parameters=[ProjectQuerySerializer],
        responses=PerformanceRowSerializer(many=True),
    )
    def get(self, request: Request, person_id: int) -> Response:
        span, data = _query(request, ProjectQuerySerializer)
        rows = selectors.person_measures_get(
            request.user, person_id=person_id, span=span, project_id=data.get("project")
        )
        return self._page(rows)


@extend_schema(tags=TAGS)
class TeamMeasuresView(_MeasuresView):
    """Each team's measures (its current members' work): a manager's teams, every team for an
    administrator, none for anyone else."""

    @extend_schema(parameters=[TeamQuerySerializer], responses=PerformanceRowSerializer(many=True))
    def get(self, request: Request) -> Response:
        span, data = _query(request, TeamQuerySerializer)
        rows = selectors.team_measures(
            request.user, span=span, team_id=data.get("team"), project_id=data.get("project")
        )
        return self._page(rows)


@extend_schema(tags=TAGS)
class ProjectMeasuresView(_MeasuresView):
    """Each project's measures over everyone's work, with its stored agreement: the projects a
    manager manages, a customer's own."""

    @extend_schema(
        parameters=[ProjectQuerySerializer], responses=PerformanceRowSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        span, data = _query(request, ProjectQuerySerializer)
        rows = selectors.project_measures(request.user, span=span, project_id=data.get("project"))
        return self._page(rows)


@extend_schema(tags=TAGS)
class CustomerMeasuresView(_MeasuresView):
    """Each customer's measures over the projects you may read of theirs."""

    @extend_schema(parameters=[SpanQuerySerializer], responses=PerformanceRowSerializer(many=True))
    def get(self, request: Request) -> Response:
        span, _ = _query(request, SpanQuerySerializer)
        return self._page(selectors.customer_measures(request.user, span=span))


@extend_schema(tags=TAGS)
class DefinitionsView(GenericAPIView[Any]):
    """Every measure: its name, unit, direction and formula over the rollups' counters."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = MeasureDefinitionSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(responses=MeasureDefinitionSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(MeasureDefinitionSerializer(DEFINITIONS, many=True).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path("performance/measures/", DefinitionsView.as_view(), name="performance-measures"),
    path("performance/people/", PeopleMeasuresView.as_view(), name="performance-people"),
    path(
        "performance/people/<id:person_id>/",
        PersonMeasuresView.as_view(),
        name="performance-person",
    ),
    path("performance/teams/", TeamMeasuresView.as_view(), name="performance-teams"),
    path("performance/projects/", ProjectMeasuresView.as_view(), name="performance-projects"),
    path("performance/customers/", CustomerMeasuresView.as_view(), name="performance-customers"),
]
