"""The dashboards' API under /api/v1/dashboards/: the manager overview's figures and each
project's pace and ETA, scoped as the portal pages are (`dashboards.selectors`).

`GET /dashboards/overview/` (labeling staff: throughput, projects with pace and ETA, people
working now, alerts), `GET /dashboards/projects/pace/` (the projects you may read, paginated)
and `GET /dashboards/projects/{id}/pace/` (one; 404 outside your scope). The rule of pace and
ETA: quality/performance/pace.py and docs/dashboards.md.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, include, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from core.api.pagination import PageNumberPagination
from core.errors import PermissionDenied
from dashboards import selectors
from labeling import policy
from quality.performance.pace import PaceStatus, project_pace_get, project_paces

TAGS = ["dashboards"]


class PaceSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(source="project_id")
    remaining = serializers.IntegerField(help_text="Tasks not final yet.")
    final_tasks_in_window = serializers.IntegerField(
        help_text="Tasks that became final in the pace window (the last whole hours)."
    )
    window_hours = serializers.IntegerField()
    per_hour = serializers.FloatField(
        allow_null=True, help_text="final_tasks_in_window / window_hours; null: no pace."
    )
    eta = serializers.DateTimeField(allow_null=True, help_text="Null: done, or no pace.")
    deadline = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=[s.value for s in PaceStatus])
    is_late = serializers.BooleanField()


class ThroughputSerializer(serializers.Serializer[Any]):
    hour = serializers.DateTimeField(help_text="The last whole hour (its start, UTC).")
    submissions = serializers.IntegerField()
    final_tasks = serializers.IntegerField()
    usual_submissions = serializers.FloatField(help_text="Mean of the same hour, 7 days before.")
    usual_final_tasks = serializers.FloatField(help_text="Mean of the same hour, 7 days before.")


class OverviewProjectSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(source="project.pk")
    name = serializers.CharField(source="project.name")
    tasks_total = serializers.IntegerField(source="project.tasks_total")
    tasks_final = serializers.IntegerField(source="project.tasks_completed")
    pace = PaceSerializer()
    final_tasks_last_hour = serializers.IntegerField()
    working_now = serializers.IntegerField(help_text="People holding a live lease in it.")


class PersonAlertSerializer(serializers.Serializer[Any]):
    person = serializers.IntegerField(source="user_id")
    name = serializers.CharField()
    gold_scored = serializers.IntegerField()
    gold_accuracy = serializers.FloatField()
    gold_accuracy_high = serializers.FloatField(source="gold_high")


class RuleActionAlertSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    person = serializers.IntegerField(source="user_id")
    rule = serializers.CharField(source="rule.name")
    kind = serializers.CharField()
    project = serializers.IntegerField(source="project_id", allow_null=True)
    taken_at = serializers.DateTimeField()


class OverviewSerializer(serializers.Serializer[Any]):
    now = serializers.DateTimeField()
    throughput = ThroughputSerializer()
    projects = OverviewProjectSerializer(many=True)
    people_working_count = serializers.IntegerField()
    people_below = PersonAlertSerializer(
        many=True, help_text="Gold accuracy (7 days) whose 95% interval is below the floor."
    )
    quality_floor = serializers.FloatField(source="floor")
    late_projects = serializers.SerializerMethodField()
    actions_today = RuleActionAlertSerializer(many=True)

    def get_late_projects(self, overview: selectors.Overview) -> list[int]:
        return [line.project.pk for line in overview.late_projects]


class OverviewView(GenericAPIView[Any]):
    """The manager overview's figures (managers and administrators, scoped to their projects
    and people)."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = OverviewSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(tags=TAGS, responses=OverviewSerializer)
    def get(self, request: Request) -> Response:
        if not policy.is_labeling_staff(request.user):
            raise PermissionDenied("The overview is for managers and administrators.")
        figures = selectors.manager_overview(request.user, now=timezone.now())
        return Response(OverviewSerializer(figures).data)


class PaceListView(GenericAPIView[Any]):
    """Each project's pace and ETA: the projects you may read (a manager's, a customer's own)."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = PaceSerializer
    pagination_class = PageNumberPagination
    filter_backends: list[Any] = []

    @extend_schema(
        tags=TAGS, operation_id="dashboards_project_pace_list", responses=PaceSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        projects = list(selectors.overview_projects(request.user))
        paces = project_paces(projects, now=timezone.now())
        page = self.paginate_queryset([paces[p.pk] for p in projects]) or []
        return self.get_paginated_response(PaceSerializer(page, many=True).data)


class PaceView(GenericAPIView[Any]):
    """One project's pace and ETA; 404 for a project you may not read."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = PaceSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(tags=TAGS, operation_id="dashboards_project_pace_retrieve")
    def get(self, request: Request, project_id: int) -> Response:
        pace = project_pace_get(request.user, project_id=project_id, now=timezone.now())
        return Response(PaceSerializer(pace).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboards/overview/", OverviewView.as_view(), name="dashboards-overview"),
    path("dashboards/projects/pace/", PaceListView.as_view(), name="dashboards-pace-list"),
    path(
        "dashboards/projects/<id:project_id>/pace/",
        PaceView.as_view(),
        name="dashboards-pace",
    ),
    # The people table by API (dashboards/api/people.py).
    path("", include("dashboards.api.people")),
]
