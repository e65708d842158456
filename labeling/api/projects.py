"""Projects: what to label, how and by whom, with their versioned instructions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Manager, QuerySet
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.filters import FilterSet
from core.api.routers import Router
from core.errors import NotFound, PermissionDenied, ValidationFailed
from kit.label_schema import PRESETS
from labeling import policy
from labeling.models import (
    Customer,
    InstructionVersion,
    Project,
    ProjectRequirement,
    projects_with_counts,
)
from labeling.services.projects import (
    instructions_publish,
    project_access_set,
    project_create,
    project_update,
    requirements_clean,
    skill_resolve,
    teams_resolve,
)
from workforce.models import SkillComparator
from workforce.selectors.teams import teams_visible_to


class InstructionVersionSerializer(serializers.ModelSerializer[InstructionVersion]):
    class Meta:
        model = InstructionVersion
        fields = ["version", "body_markdown", "body_html", "created_at"]
        read_only_fields = ["version", "body_html", "created_at"]


class TeamIdsField(serializers.ListField):
    """The ids of the teams a project is limited to (empty: open to every team)."""

    child = serializers.IntegerField()

    def to_representation(self, data: Any) -> list[int]:
        teams = data.all() if isinstance(data, Manager) else data
        return sorted(team.pk for team in teams)


class RequirementSerializer(serializers.Serializer[Any]):
    skill = serializers.CharField(help_text="The skill's slug.")
    comparator = serializers.ChoiceField(choices=SkillComparator.choices)
    level = serializers.IntegerField(
        required=False, allow_null=True, help_text="For at_least: 1..10; empty for lacks."
    )


@extend_schema_field(RequirementSerializer(many=True))
class RequirementsField(serializers.ListField):
    """The project's skill requirements beyond `required_skill` (validated by the services)."""

    child = serializers.DictField()

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        rows: list[ProjectRequirement] = list(value.all())
        return [
            {"skill": row.skill.slug, "comparator": row.comparator, "level": row.level}
            for row in rows
        ]


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
    teams = TeamIdsField(
        required=False, help_text="Limit the project to these teams; empty: open to every team."
    )
    requirements = RequirementsField(required=False)

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
            "teams",
            "requirements",
            "status",
            "review_levels",
            "max_reworks",
            "gold_warmup",
            "gold_rates",
            "gold_feedback",
            "aggregation_method",
            "confidence_threshold",
            "tie_rule",
            "reaggregate_final",
            "deadline",
            "purpose",
            "skill_check",
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
        extra_kwargs = {
            "task_type": {"required": False},
            "deadline": {
                "help_text": "When every task should be final (optional; ISO 8601 with its "
                "time zone). The dashboards compare it with the ETA at the current pace."
            },
        }


class ProjectFilter(FilterSet):
    class Meta:
        model = Project
        fields = ["status", "task_type", "pipeline", "customer"]


class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Project],
):
    """Projects: what to label, how, by whom. Another customer's project is not found."""

    serializer_class = ProjectSerializer
    permission_classes = BASE_PERMISSIONS
    filterset_class = ProjectFilter
    ordering_fields = ["created_at", "priority", "name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Project]:
        return projects_with_counts(
            policy.projects_managed_by(self.request.user).prefetch_related(
                "teams", "requirements__skill"
            )
        ).order_by("-priority", "name", "pk")

    def _access_set(self, project: Project, values: dict[str, Any], request: Request) -> None:
        """Set the team limit and requirements given in `values` (validated by the services)."""
        teams = (
            teams_resolve(values["teams"], visible=teams_visible_to(request.user))
            if "teams" in values
            else None
        )
        requirements = (
            requirements_clean(values["requirements"]) if "requirements" in values else None
        )
        if teams is not None or requirements is not None:
            project_access_set(
                project=project,
                actor=request_user(request),
                teams=teams,
                requirements=requirements,
            )

    def _settings(self, data: dict[str, Any]) -> dict[str, Any]:
        values = {
            k: v
            for k, v in data.items()
            if k
            not in {
                "customer",
                "preset",
                "instructions",
                "required_skill_slug",
                "task_type",
                "name",
                "teams",
                "requirements",
            }
        }
        if "required_skill_slug" in data:
            values["required_skill"] = skill_resolve(data["required_skill_slug"])
        makes_check = values.get("purpose", "work") != "work" or values.get("skill_check")
        if makes_check and not policy.is_labeling_staff(self.request.user):
            raise PermissionDenied("Only managers make training and test projects.")
        return values

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not policy.can_create_projects(request.user):
            raise PermissionDenied("Only managers, administrators and customers create projects.")
        data = ProjectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = values.get("customer")
        own = policy.customer_of(request.user)
        if not policy.is_labeling_staff(request.user):
            if customer is not None and customer != own:
                raise NotFound("There is no such customer.")
            customer = own
        if customer is None:
            raise ValidationFailed(
                "customer: Say which customer the project is for.",
                fields={"customer": ["Required."]},
            )
        with transaction.atomic():
            project = project_create(
                customer=customer,
                name=values.get("name", ""),
                task_type=values.get("task_type"),
                preset=values.get("preset", ""),
                instructions=values.get("instructions", ""),
                actor=request_user(request),
                **self._settings(values),
            )
            self._access_set(project, values, request)
        return Response(
            ProjectSerializer(self.get_queryset().get(pk=project.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self.get_object()
        data = ProjectSerializer(project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "customer" in values and values["customer"] != project.customer:
            raise ValidationFailed(
                "customer: A project cannot move to another customer.",
                fields={"customer": ["Cannot change."]},
            )
        changes = self._settings(values)
        for key in ("name", "task_type"):
            if key in values:
                changes[key] = values[key]
        instructions = values.get("instructions")
        with transaction.atomic():
            project = project_update(project=project, actor=request_user(request), **changes)
            self._access_set(project, values, request)
        if instructions:
            instructions_publish(
                project=project, body_markdown=instructions, actor=request_user(request)
            )
        return Response(ProjectSerializer(self.get_queryset().get(pk=project.pk)).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(methods=["GET"], responses=InstructionVersionSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=InstructionVersionSerializer,
        responses={201: InstructionVersionSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def instructions(self, request: Request, pk: str | None = None) -> Response:
        """List the versions of the instructions, newest first; POST publishes a new version."""
        project = self.get_object()
        if request.method == "POST":
            data = InstructionVersionSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            version = instructions_publish(
                project=project,
                body_markdown=data.validated_data["body_markdown"],
                actor=request_user(request),
            )
            return Response(
                InstructionVersionSerializer(version).data, status=status.HTTP_201_CREATED
            )
        return Response(
            InstructionVersionSerializer(project.instruction_versions.all(), many=True).data
        )


router = Router()
router.register("projects", ProjectViewSet, basename="project")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
