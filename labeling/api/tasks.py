"""A project's tasks (listed, or added by the thousand) and one task with its provenance."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter, TimestampFilter
from core.api.routers import Router
from labeling import policy
from labeling.api.gold import GoldAnswerSerializer
from labeling.api.review import ReviewSerializer
from labeling.models import Annotation, GoldAnswer, Project, Review, Task
from labeling.services.imports.batches import tasks_create


class TaskSerializer(serializers.ModelSerializer[Task]):
    batch = serializers.IntegerField(source="import_job_id", read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "external_id",
            "data",
            "meta",
            "pre_annotation",
            "priority",
            "status",
            "annotations_count",
            "result",
            "agreement",
            "confidence",
            "is_tie",
            "is_gold",
            "review_level",
            "batch",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class AnnotationSerializer(serializers.ModelSerializer[Annotation]):
    annotator_id = serializers.IntegerField(source="author_id", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "annotator_id",
            "revision",
            "result",
            "status",
            "instructions_version",
            "active_seconds",
            "submitted_at",
            "corrects",
            "agreement",
        ]
        read_only_fields = fields


class TaskDetailSerializer(TaskSerializer):
    """A task with its annotations, reviews and, for gold tasks, the answer (managers only)."""

    annotations = AnnotationSerializer(many=True, read_only=True)
    reviews = ReviewSerializer(many=True, read_only=True)
    gold = serializers.SerializerMethodField()

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "annotations", "reviews", "gold"]
        read_only_fields = fields

    @extend_schema_field(GoldAnswerSerializer(allow_null=True))
    def get_gold(self, task: Task) -> dict[str, Any] | None:
        if not task.is_gold:
            return None
        answer = GoldAnswer.objects.filter(task_id=task.pk).first()
        return GoldAnswerSerializer(answer).data if answer else None


class TasksCreateSerializer(serializers.Serializer[Any]):
    tasks = serializers.ListField(
        child=serializers.JSONField(), help_text="Up to 1,000 task objects."
    )


class TasksCreatedSerializer(serializers.Serializer[Any]):
    """What `POST /projects/{id}/tasks/` stored: tasks to label and gold tasks alike are created."""

    created = serializers.IntegerField(help_text="Tasks stored, gold tasks included.")
    gold = serializers.IntegerField(help_text="How many of the stored tasks are gold tasks.")
    duplicates = serializers.IntegerField(
        help_text="Lines skipped because their external id is already in the project."
    )
    lines_read = serializers.IntegerField()


class TaskFilter(FilterSet):
    batch = IdFilter(field_name="import_job_id")
    created_since = TimestampFilter(field_name="created_at", lookup_expr="gte")
    completed_since = TimestampFilter(field_name="completed_at", lookup_expr="gte")

    class Meta:
        model = Task
        fields = ["status", "external_id", "batch", "created_since", "completed_since"]


class ProjectTasksView(mixins.ListModelMixin, viewsets.GenericViewSet[Task]):
    """A project's tasks (filter by status, external_id, batch, dates); POST adds up to 1,000 at once."""

    serializer_class = TaskSerializer
    permission_classes = BASE_PERMISSIONS
    filterset_class = TaskFilter
    ordering_fields = ["id", "created_at", "completed_at", "priority"]

    def _project(self) -> Project:
        return get_object_or_404(
            policy.projects_managed_by(self.request.user), pk=self.kwargs["project_id"]
        )

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        return Task.objects.filter(project=self._project()).order_by("id")

    @extend_schema(request=TasksCreateSerializer, responses={201: TasksCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self._project()
        data = TasksCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = tasks_create(
            project=project, tasks=data.validated_data["tasks"], actor=request_user(request)
        )
        return Response(
            {
                "created": outcome.created,
                "gold": outcome.gold,
                "duplicates": outcome.duplicates,
                "lines_read": outcome.lines_read,
            },
            status=status.HTTP_201_CREATED,
        )


class TaskViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[Task]):
    """One task with its annotations and provenance."""

    serializer_class = TaskDetailSerializer
    permission_classes = BASE_PERMISSIONS

    def get_queryset(self) -> QuerySet[Task]:
        return policy.tasks_managed_by(self.request.user).prefetch_related(
            Prefetch("annotations", queryset=Annotation.objects.order_by("submitted_at", "pk")),
            Prefetch("reviews", queryset=Review.objects.order_by("created_at", "pk")),
        )


router = Router()
router.register("tasks", TaskViewSet, basename="task")

project_tasks = ProjectTasksView.as_view({"get": "list", "post": "create"})

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects/<id:project_id>/tasks/", project_tasks, name="project-tasks"),
    *router.urls,
]
