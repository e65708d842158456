from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kit.label_schema import PRESETS
from labeling.models import (
    Annotation,
    Customer,
    GoldAnswer,
    ImportJob,
    InstructionVersion,
    Lease,
    Project,
    Review,
    Task,
)


class CustomerSerializer(serializers.ModelSerializer[Customer]):
    class Meta:
        model = Customer
        fields = ["id", "name", "slug", "created_at"]
        read_only_fields = ["id", "created_at"]


class LabelSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=60)
    color = serializers.CharField(required=False, allow_blank=True)
    hotkey = serializers.CharField(required=False, allow_blank=True, max_length=1)


class InstructionVersionSerializer(serializers.ModelSerializer[InstructionVersion]):
    class Meta:
        model = InstructionVersion
        fields = ["version", "body_markdown", "body_html", "created_at"]
        read_only_fields = ["version", "body_html", "created_at"]


class ProjectSerializer(serializers.ModelSerializer[Project]):
    """A project as its managers see it; settings are validated by the project services."""

    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all(), required=False)
    preset = serializers.ChoiceField(
        choices=[("", "none"), *((p, p) for p in PRESETS)], required=False, allow_blank=True
    )
    labels = serializers.JSONField(required=False)
    review_levels = serializers.JSONField(required=False)
    gold_rates = serializers.JSONField(required=False)
    required_skill: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    required_skill_slug = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, write_only=True
    )
    instructions = serializers.CharField(required=False, allow_blank=True, write_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "customer",
            "name",
            "description",
            "task_type",
            "preset",
            "labels",
            "max_labels",
            "allow_overlapping_spans",
            "pipeline",
            "overlap",
            "max_overlap",
            "lease_seconds",
            "idle_cap_seconds",
            "max_leases_per_person",
            "priority",
            "queue_order",
            "required_skill",
            "required_skill_slug",
            "required_level",
            "status",
            "review_levels",
            "max_reworks",
            "gold_warmup",
            "gold_rates",
            "gold_feedback",
            "aggregation_method",
            "confidence_threshold",
            "instructions",
            "instructions_version",
            "tasks_total",
            "tasks_completed",
            "annotations_total",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "tasks_total",
            "tasks_completed",
            "annotations_total",
            "created_at",
            "updated_at",
            "instructions_version",
        ]
        extra_kwargs = {"task_type": {"required": False}}


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


class ReviewSerializer(serializers.ModelSerializer[Review]):
    class Meta:
        model = Review
        fields = [
            "id",
            "level",
            "annotation",
            "author",
            "reviewer",
            "verdict",
            "reason",
            "comment",
            "correction",
            "correction_score",
            "upheld",
            "created_at",
        ]
        read_only_fields = fields


class GoldAnswerSerializer(serializers.ModelSerializer[GoldAnswer]):
    """A gold task's hidden answer: for the project's managers and customer only."""

    class Meta:
        model = GoldAnswer
        fields = ["result", "explanation", "is_retired", "version", "updated_at"]
        read_only_fields = ["is_retired", "version", "updated_at"]


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
        from labeling.services.imports.batches import import_progress

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


# --- What annotators see: never `meta`, never anything hidden. -------------------------------


class WorkProjectSerializer(serializers.ModelSerializer[Project]):
    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "task_type",
            "labels",
            "max_labels",
            "allow_overlapping_spans",
            "lease_seconds",
        ]
        read_only_fields = fields


class WorkTaskSerializer(serializers.ModelSerializer[Task]):
    class Meta:
        model = Task
        fields = ["id", "data", "pre_annotation"]
        read_only_fields = fields


class LeaseSerializer(serializers.ModelSerializer[Lease]):
    class Meta:
        model = Lease
        fields = ["id", "state", "claimed_at", "expires_at", "active_seconds"]
        read_only_fields = fields


class ClaimSerializer(serializers.Serializer[Any]):
    lease = LeaseSerializer()
    resumed = serializers.BooleanField()
    task = WorkTaskSerializer()
    project = WorkProjectSerializer()
    instructions = serializers.DictField(allow_null=True)


class SubmitSerializer(serializers.Serializer[Any]):
    result = serializers.JSONField()


class SkipSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class SubmittedSerializer(serializers.Serializer[Any]):
    annotation_id = serializers.IntegerField()
    task_status = serializers.CharField()
    feedback = serializers.DictField(
        allow_null=True,
        help_text="Training mode, after a gold task: score, correct, expected and explanation.",
    )
