"""Imports of tasks into a project (a file or a URL), run in the background with progress."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.parsers import JSONParser
from core.api.routers import Router
from labeling import policy
from labeling.models import ImportJob, Project
from labeling.services.imports.batches import (
    import_create_from_location,
    import_create_from_upload,
    import_progress,
)


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "project",
            "source_kind",
            "source",
            "file_format",
            "status",
            "progress",
            "total_bytes",
            "lines_read",
            "tasks_created",
            "duplicates",
            "error_count",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress(self, job: ImportJob) -> dict[str, Any]:
        return import_progress(job)


class ImportCreateSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(required=False, help_text="A JSONL, CSV or JSON-array file.")
    url = serializers.CharField(
        required=False, help_text="An http(s) URL or s3://, gs://, azure:// URI."
    )
    format = serializers.ChoiceField(choices=["jsonl", "csv", "json"], required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("url")):
            raise serializers.ValidationError(
                {"file": "Send either a file or a url, not both or neither."}
            )
        return attrs


class ProjectImportsView(mixins.ListModelMixin, viewsets.GenericViewSet[ImportJob]):
    """A project's imports; POST a file (multipart) or {"url": ...} to start one."""

    serializer_class = ImportJobSerializer
    permission_classes = BASE_PERMISSIONS
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def _project(self) -> Project:
        return get_object_or_404(
            policy.projects_managed_by(self.request.user), pk=self.kwargs["project_id"]
        )

    def get_queryset(self) -> QuerySet[ImportJob]:
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        return ImportJob.objects.filter(project=self._project())

    @extend_schema(request=ImportCreateSerializer, responses={202: ImportJobSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self._project()
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("file"):
            job = import_create_from_upload(
                project=project,
                upload=values["file"],
                actor=request_user(request),
                file_format=values.get("format"),
            )
        else:
            job = import_create_from_location(
                project=project,
                location=values["url"],
                actor=request_user(request),
                file_format=values.get("format"),
            )
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[ImportJob]):
    """One import: status, progress, and the report of bad lines."""

    serializer_class = ImportJobSerializer
    permission_classes = BASE_PERMISSIONS

    def get_queryset(self) -> QuerySet[ImportJob]:
        return policy.imports_managed_by(self.request.user)


router = Router()
router.register("imports", ImportViewSet, basename="import")

project_imports = ProjectImportsView.as_view({"get": "list", "post": "create"})

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects/<id:project_id>/imports/", project_imports, name="project-imports"),
    *router.urls,
]
