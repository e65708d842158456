"""The people dashboards' API (included under /api/v1/ by config/urls.py).

`GET /dashboards/people/`: the people table as the portal shows it, for managers and
administrators: every person in your scope with work in the period, all measures, sorted on any
measure over everyone, filtered by team, project, skill and standing, paginated, each row with
its daily final tasks (the sparkline). The per-period series of one person, teams and projects
are quality's `/performance/` endpoints; this one adds what they lack: the skill and standing
filters, the named periods and the daily series per row. Definitions: docs/measures.md.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from core.api.pagination import PageNumberPagination
from core.converters import MAX_ID
from core.errors import ValidationFailed
from dashboards import people_selectors as selectors
from dashboards.people_selectors import PERIODS, SORTS, PeopleFilters
from quality.api.performance import PerformanceMeasuresSerializer
from workforce.selectors.onboarding_steps import journey_states

TAGS = ["dashboards"]


class PeopleTableQuerySerializer(serializers.Serializer[Any]):
    period = serializers.ChoiceField(
        choices=list(PERIODS),
        required=False,
        help_text="today, 7d, 30d, 90d (back from now), or custom (give since and until).",
    )
    since = serializers.CharField(required=False, help_text="Custom start: a date or a time.")
    until = serializers.CharField(
        required=False, help_text="Custom end: a date (through that day) or a time."
    )
    sort = serializers.ChoiceField(
        choices=sorted(SORTS),
        required=False,
        help_text='A measure\'s name, "-" first for descending; people without a value come '
        "last. Default: -final_tasks.",
    )
    team = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    project = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    skill = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="People holding the skill."
    )
    standing = serializers.CharField(
        required=False, help_text="A journey state, e.g. probation, active, suspended."
    )


class PeopleTableRowSerializer(serializers.Serializer[Any]):
    person = serializers.IntegerField(source="user_id")
    name = serializers.CharField()
    team = serializers.CharField(help_text="Empty when in no team.")
    standing = serializers.CharField(help_text="Their journey state, as people read it.")
    measures = PerformanceMeasuresSerializer()
    final_tasks_by_day = serializers.ListField(
        source="sparkline",
        child=serializers.IntegerField(),
        help_text="Final tasks per UTC day of the period, oldest first.",
    )


def _query(request: Request) -> dict[str, Any]:
    given = PeopleTableQuerySerializer(data=request.query_params)
    if not given.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in given.errors.items()}
        first = next(iter(fields))
        raise ValidationFailed(f"{first}: {fields[first][0]}", fields=fields)
    data = dict(given.validated_data)
    standing = data.get("standing")
    if standing and standing not in journey_states():
        message = "Not a journey state."
        raise ValidationFailed(f"standing: {message}", fields={"standing": [message]})
    return data


@extend_schema(tags=TAGS)
class PeopleTableView(GenericAPIView[Any]):
    """The people table: all measures of every person in your scope over the period, sorted
    and filtered, with their daily final tasks. Managers (their teams) and administrators."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW
    serializer_class = PeopleTableRowSerializer
    pagination_class = PageNumberPagination
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[PeopleTableQuerySerializer], responses=PeopleTableRowSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        data = _query(request)
        period = selectors.period_of(
            data.get("period"), since=data.get("since"), until=data.get("until"), now=timezone.now()
        )
        filters = PeopleFilters(
            team_id=data.get("team"),
            project_id=data.get("project"),
            skill_id=data.get("skill"),
            standing=data.get("standing") or None,
        )
        ranking = selectors.people_ranked(
            request.user, period=period, filters=filters, sort=selectors.sort_of(data.get("sort"))
        )
        shown = self.paginate_queryset(ranking.order) or []
        rows = selectors.people_rows(request.user, ranking, list(shown))
        return self.get_paginated_response(PeopleTableRowSerializer(rows, many=True).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboards/people/", PeopleTableView.as_view(), name="dashboards-people"),
]
