"""Export API: stream a project's labels, or follow a background export job to its file.

Customers reach their own projects' exports and labeling staff reach all; anything else is 404,
and annotators and reviewers are refused (403). On these endpoints `?format=` names the file
format, not a DRF renderer: they answer JSON (or the file) whatever `format` or Accept say.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.errors import Conflict, NotFound
from labeling.downloads import export_file_response
from labeling.export_formats import FORMATS
from labeling.models import ExportJob, ExportStatus, Project
from labeling.policy import (
    exports_managed_by,
    is_customer_user,
    is_labeling_staff,
    projects_managed_by,
)
from labeling.services.exports.jobs import export_job_create
from labeling.services.exports.rows import export_count
from labeling.services.exports.streaming import (
    export_direct_max_rows,
    export_filename,
    export_stream,
)

STATUS_CHOICES = ("final", "all")
_TAGS = ["exports"]


class ExportNegotiation(DefaultContentNegotiation):
    """Always answer with the first renderer (JSON): `?format=` is the export's file format here."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class ManagesProjects(BasePermission):
    """Customers and labeling staff; annotators, reviewers and finance are refused."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_labeling_staff(request.user) or is_customer_user(request.user)


class ExportRequestSerializer(serializers.Serializer[Any]):
    format = serializers.ChoiceField(
        choices=list(FORMATS), default="jsonl", help_text="conll only for ner projects."
    )
    status = serializers.ChoiceField(
        choices=list(STATUS_CHOICES),
        default="final",
        help_text="final: completed tasks, by completion time; all: every task, by creation time.",
    )
    since = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="ISO 8601 date or time (UTC without an offset); inclusive.",
    )
    until = serializers.CharField(
        required=False, allow_blank=True, help_text="ISO 8601 date or time; exclusive."
    )
    batch = serializers.IntegerField(
        required=False, allow_null=True, help_text="An import job id of the project."
    )


class ExportJobSerializer(serializers.ModelSerializer[ExportJob]):
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "project",
            "file_format",
            "filters",
            "status",
            "rows_total",
            "rows_written",
            "message",
            "created_at",
            "finished_at",
            "url",
            "download_url",
        ]
        read_only_fields = fields

    def _absolute(self, name: str, pk: int) -> str:
        location = reverse(name, kwargs={"pk": pk})
        request = self.context.get("request")
        return request.build_absolute_uri(location) if request is not None else location

    def get_url(self, job: ExportJob) -> str:
        return self._absolute("labeling-export-detail", job.pk)

    def get_download_url(self, job: ExportJob) -> str | None:
        """Where to fetch the file, once the job has succeeded."""
        if job.status != ExportStatus.SUCCEEDED or not job.file:
            return None
        return self._absolute("labeling-export-download", job.pk)


def _project_for(request: Request, project_id: int) -> Project:
    project = projects_managed_by(request.user).filter(pk=project_id).first()
    if project is None:
        raise NotFound("There is no such project.")
    return project


def _export_request(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return the file format and the keyword filters of `export_rows` for a validated request."""
    filters = {
        "final_only": data["status"] == "final",
        "since": data.get("since") or None,
        "until": data.get("until") or None,
        "batch_id": data.get("batch"),
    }
    return data["format"], filters


_EXPORT_PARAMETERS = [
    OpenApiParameter(
        "format",
        str,
        enum=list(FORMATS),
        default="jsonl",
        description="File format; conll only for ner projects.",
    ),
    OpenApiParameter(
        "status",
        str,
        enum=list(STATUS_CHOICES),
        default="final",
        description="final: completed tasks (filtered by completion time); all: every task "
        "(filtered by creation time).",
    ),
    OpenApiParameter(
        "since",
        OpenApiTypes.DATETIME,
        description="ISO 8601 date or time, inclusive; UTC when it has no offset "
        "(URL-encode '+' or use Z).",
    ),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601, exclusive."),
    OpenApiParameter("batch", int, description="Only tasks of this import job."),
]


class ProjectExportView(APIView):
    """Download a project's labels: streamed at once when small, otherwise as a background job."""

    permission_classes = [*BASE_PERMISSIONS, ManagesProjects]
    content_negotiation_class = ExportNegotiation

    @extend_schema(
        tags=_TAGS,
        parameters=_EXPORT_PARAMETERS,
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "text/plain"): OpenApiTypes.BINARY,
            202: OpenApiResponse(
                ExportJobSerializer,
                description="Too many rows to stream now: an export job was created; poll its "
                "url until download_url is set.",
            ),
        },
    )
    def get(self, request: Request, project_id: int) -> HttpResponseBase:
        project = _project_for(request, project_id)
        query = ExportRequestSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        file_format, filters = _export_request(query.validated_data)

        if export_count(project=project, **filters) > export_direct_max_rows():
            job = export_job_create(
                project=project,
                file_format=file_format,
                filters=filters,
                actor=request_user(request),
            )
            body = ExportJobSerializer(job, context={"request": request}).data
            return Response(
                body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]}
            )

        stream = export_stream(project=project, file_format=file_format, **filters)
        response = StreamingHttpResponse(stream, content_type=FORMATS[file_format].content_type)
        response["Content-Disposition"] = content_disposition_header(
            True, export_filename(project=project, file_format=file_format)
        )
        response["Cache-Control"] = "no-store"
        return response


class ProjectExportListView(generics.ListCreateAPIView[ExportJob]):
    """A project's export jobs, newest first; create one to export in the background."""

    serializer_class = ExportJobSerializer
    permission_classes = [*BASE_PERMISSIONS, ManagesProjects]
    content_negotiation_class = ExportNegotiation
    filterset_fields = ["status", "file_format"]
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet[ExportJob]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ExportJob.objects.none()
        project = _project_for(self.request, self.kwargs["project_id"])
        return exports_managed_by(self.request.user).filter(project=project)

    @extend_schema(tags=_TAGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=_TAGS, request=ExportRequestSerializer, responses={201: ExportJobSerializer}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = _project_for(request, self.kwargs["project_id"])
        data = ExportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        file_format, filters = _export_request(data.validated_data)
        job = export_job_create(
            project=project, file_format=file_format, filters=filters, actor=request_user(request)
        )
        body = ExportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class ExportJobView(generics.RetrieveAPIView[ExportJob]):
    """An export job: its status, progress (rows_written of rows_total) and, when ready, its file."""

    serializer_class = ExportJobSerializer
    permission_classes = [*BASE_PERMISSIONS, ManagesProjects]
    content_negotiation_class = ExportNegotiation

    def get_queryset(self) -> QuerySet[ExportJob]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ExportJob.objects.none()
        return exports_managed_by(self.request.user)

    @extend_schema(tags=_TAGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ExportDownloadView(generics.GenericAPIView[ExportJob]):
    """The file of an export job that has succeeded (409 export_not_ready before)."""

    permission_classes = [*BASE_PERMISSIONS, ManagesProjects]
    content_negotiation_class = ExportNegotiation

    def get_queryset(self) -> QuerySet[ExportJob]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ExportJob.objects.none()
        return exports_managed_by(self.request.user)

    @extend_schema(
        tags=_TAGS,
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "text/plain"): OpenApiTypes.BINARY,
            409: OpenApiResponse(
                description='{"code": "export_not_ready"}: the job has not succeeded (yet).'
            ),
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        job = self.get_object()
        if job.status != ExportStatus.SUCCEEDED or not job.file:
            raise Conflict(
                "The export file is not ready yet."
                if job.status != ExportStatus.FAILED
                else f"The export failed: {job.message}",
                code="export_not_ready",
                extra={"status": job.status},
            )
        return export_file_response(job)


urlpatterns = [
    path(
        "projects/<id:project_id>/export/",
        ProjectExportView.as_view(),
        name="labeling-project-export",
    ),
    path(
        "projects/<id:project_id>/exports/",
        ProjectExportListView.as_view(),
        name="labeling-project-exports",
    ),
    path("exports/<id:pk>/", ExportJobView.as_view(), name="labeling-export-detail"),
    path(
        "exports/<id:pk>/download/",
        ExportDownloadView.as_view(),
        name="labeling-export-download",
    ),
]
