"""Re-aggregation of a consensus project, for its managers and customer:
`POST /projects/{id}/reaggregate/` queues a re-aggregation of its tasks under the current
estimates (every final task by default; `{"include_final": false}` for in-review and recent ones
only), `GET /projects/{id}/reaggregate/` reports the latest run's progress (queued, running with
tasks done of the total, finished or failed), and `GET /projects/{id}/reaggregations/` lists the changes made, newest first, with the
before and after. Another customer's project is "not found".
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.pagination import PageNumberPagination
from core.errors import Conflict, ValidationFailed
from labeling import policy
from labeling.models import Project
from labeling.models.work import Reaggregation
from labeling.services.reaggregation import (
    PROGRESS_FAILED,
    PROGRESS_FINISHED,
    PROGRESS_IDLE,
    PROGRESS_QUEUED,
    PROGRESS_RUNNING,
    project_reaggregate_queue,
    reaggregation_applies,
    reaggregation_progress,
)


def _project(request: Request, project_id: int) -> Project:
    return get_object_or_404(policy.projects_managed_by(request.user), pk=project_id)


class ReaggregateRequestSerializer(serializers.Serializer[Any]):
    include_final = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Also re-aggregate final tasks older than the recent window (default true).",
    )


class ReaggregateQueuedSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    include_final = serializers.BooleanField()


class ReaggregationProgressSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(
        choices=[
            PROGRESS_IDLE,
            PROGRESS_QUEUED,
            PROGRESS_RUNNING,
            PROGRESS_FINISHED,
            PROGRESS_FAILED,
        ],
        help_text="idle: none in the last day.",
    )
    include_final = serializers.BooleanField(allow_null=True)
    done = serializers.IntegerField(help_text="Tasks examined so far.")
    total = serializers.IntegerField(
        allow_null=True, help_text="Tasks to examine (null until it starts)."
    )
    progress = serializers.FloatField(allow_null=True, help_text="done / total, 0..1.")
    changed = serializers.IntegerField()
    ties_left = serializers.IntegerField()
    queued_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField(allow_blank=True)


class ReaggregationSerializer(serializers.ModelSerializer[Reaggregation]):
    class Meta:
        model = Reaggregation
        fields = [
            "id",
            "task",
            "task_status",
            "before_result",
            "after_result",
            "before_confidence",
            "after_confidence",
            "estimates_at",
            "changed_at",
        ]
        read_only_fields = fields


class ReaggregateView(APIView):
    """Queue a re-aggregation of the project's tasks under its current estimates (POST), or
    read the latest one's progress (GET)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses={200: ReaggregationProgressSerializer})
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        return Response(ReaggregationProgressSerializer(reaggregation_progress(project)).data)

    @extend_schema(
        request=ReaggregateRequestSerializer,
        responses={
            202: ReaggregateQueuedSerializer,
            409: OpenApiResponse(description="The project's outcomes do not use the estimates"),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        data = ReaggregateRequestSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationFailed(
                "include_final: Must be true or false.", fields=dict(data.errors)
            )
        if not reaggregation_applies(project):
            raise Conflict(
                "Re-aggregation applies to single-label consensus projects whose outcomes use "
                "the estimates (weighted vote, Dawid-Skene or a confidence threshold).",
                extra={"pipeline": project.pipeline, "task_type": project.task_type},
            )
        include_final = bool(data.validated_data["include_final"])
        project_reaggregate_queue(
            project=project, include_final=include_final, actor=request_user(request)
        )
        return Response(
            {"status": "queued", "include_final": include_final},
            status=status.HTTP_202_ACCEPTED,
        )


class ReaggregationsView(GenericAPIView[Reaggregation]):
    """The changes re-aggregation made to the project's tasks, newest first."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = ReaggregationSerializer
    pagination_class = PageNumberPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Reaggregation]:
        return Reaggregation.objects.none()

    @extend_schema(responses={200: ReaggregationSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        changes = Reaggregation.objects.filter(project_id=project.pk).order_by("-changed_at", "-pk")
        page = self.paginate_queryset(changes) or []
        return self.get_paginated_response(ReaggregationSerializer(page, many=True).data)


urlpatterns = [
    path(
        "projects/<id:project_id>/reaggregate/",
        ReaggregateView.as_view(),
        name="project-reaggregate",
    ),
    path(
        "projects/<id:project_id>/reaggregations/",
        ReaggregationsView.as_view(),
        name="project-reaggregations",
    ),
]
