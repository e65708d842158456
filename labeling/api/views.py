"""Customer, manager and annotator API of the labeling engine."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import MfaEnrolled
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter, TimestampFilter
from core.api.parsers import JSONParser
from core.cache import counter_add
from core.errors import NotFound, PermissionDenied, ValidationFailed
from labeling import policy
from labeling.api.serializers import (
    ClaimSerializer,
    CustomerSerializer,
    ImportCreateSerializer,
    ImportJobSerializer,
    InstructionVersionSerializer,
    LeaseSerializer,
    ProjectSerializer,
    SkipSerializer,
    SubmitSerializer,
    SubmittedSerializer,
    TaskDetailSerializer,
    TasksCreatedSerializer,
    TasksCreateSerializer,
    TaskSerializer,
    WorkProjectSerializer,
)
from labeling.models import Annotation, Customer, ImportJob, Lease, Project, Review, Task
from labeling.selectors import instructions_of
from labeling.services.claim import slot_claim_by_id
from labeling.services.claimed import Claim, ClaimOutcome
from labeling.services.imports.batches import (
    import_create_from_location,
    import_create_from_upload,
    tasks_create,
)
from labeling.services.leases import lease_heartbeat, lease_release, lease_start
from labeling.services.projects import (
    customer_create,
    instructions_publish,
    project_create,
    project_update,
    skill_resolve,
)
from labeling.services.submit import lease_skip, lease_submit_outcome

BASE_PERMISSIONS = [IsAuthenticated, MfaEnrolled]


class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Customer],
):
    """Customers (data owners). Staff see and create them; a customer's users see their own."""

    serializer_class = CustomerSerializer
    permission_classes = BASE_PERMISSIONS

    def get_queryset(self) -> QuerySet[Customer]:
        return policy.customers_visible_to(self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not policy.is_labeling_staff(request.user):
            raise PermissionDenied("Only managers and administrators create customers.")
        data = CustomerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_create(
            name=data.validated_data["name"],
            slug=data.validated_data.get("slug", ""),
            actor=request_user(request),
        )
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


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
        return policy.projects_managed_by(self.request.user).order_by("-priority", "name", "pk")

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
            }
        }
        if "required_skill_slug" in data:
            values["required_skill"] = skill_resolve(data["required_skill_slug"])
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
        project = project_create(
            customer=customer,
            name=values.get("name", ""),
            task_type=values.get("task_type"),
            preset=values.get("preset", ""),
            instructions=values.get("instructions", ""),
            actor=request_user(request),
            **self._settings(values),
        )
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
        project = project_update(project=project, actor=request_user(request), **changes)
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


# --- Annotators: claim, heartbeat, submit, skip, release ------------------------------------


_TIMESTAMP = serializers.DateTimeField()


def claim_body(claim: Claim) -> dict[str, Any]:
    """The claim response (shape: `ClaimSerializer`) of a lease held as models."""
    return leased_body(ClaimOutcome.of_claim(claim))


def leased_body(outcome: ClaimOutcome) -> dict[str, Any]:
    """The claim response (shape: `ClaimSerializer`), built directly: it is the busiest response
    of the API, and building serializers for it cost more than the claim's database work."""
    leased = outcome.leased
    return {
        "lease": {
            "id": leased.lease_id,
            "state": outcome.state,
            "claimed_at": _TIMESTAMP.to_representation(leased.claimed_at),
            "expires_at": _TIMESTAMP.to_representation(leased.expires_at),
            "active_seconds": outcome.active_seconds,
        },
        "resumed": outcome.resumed,
        "task": {
            "id": leased.task_id,
            "data": leased.data,
            "pre_annotation": leased.pre_annotation,
        },
        "project": {
            "id": leased.project_id,
            "name": leased.project_name,
            "task_type": leased.task_type,
            "labels": leased.labels,
            "max_labels": leased.max_labels,
            "allow_overlapping_spans": leased.allow_overlapping_spans,
            "lease_seconds": leased.lease_seconds,
        },
        "instructions": (
            {"version": leased.instructions_version, "html": leased.instructions_html}
            if leased.instructions_html is not None
            else instructions_of(leased.project_id, leased.instructions_version)
        ),
    }


def work_claim(*, user: User, project_id: int, prefetch: bool) -> dict[str, Any]:
    """Claim the next task of a project the person may work in; return the response body.

    Raises NotFound (not a project the access policy lets them work in), NotQualified or
    NoWorkAvailable.
    """
    return leased_body(slot_claim_by_id(project_id=project_id, user=user, prefetch=prefetch))


def work_submit(*, user: User, lease_id: int, result: Any) -> dict[str, Any]:
    """Submit `result` through the caller's lease; return the response body (shape:
    `SubmittedSerializer`)."""
    return asdict(lease_submit_outcome(lease_id=lease_id, user=user, result=result))


class WorkThrottle(ScopedRateThrottle):
    """`RATE_LIMIT_WORK` calls per person, counted in fixed windows of the rate's period.

    DRF's throttles keep every call's time in one cache entry, read and written back on each
    call; a counter per window takes one cache round trip and no list. A burst can straddle two
    windows (up to twice the rate for a moment), which a rate limit of this kind tolerates.
    """

    scope_attr = "throttle_scope"

    def counter(self, request: Any, view: Any) -> tuple[str, int] | None:
        """The counter this call adds to (key, lifetime in seconds), or None when unlimited."""
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return None
        self.rate = self.get_rate()
        self.num_requests, period = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if self.num_requests is None or period is None or key is None:
            return None
        self.now = self.timer()
        window = int(self.now // period)
        self.window_ends = (window + 1) * period
        return f"{key}:{window}", period + 1

    def allows(self, count: int) -> bool:
        """Whether a call that brought the counter to `count` is within the rate."""
        return self.num_requests is None or count <= self.num_requests

    def allow_request(self, request: Any, view: Any) -> bool:
        counter = self.counter(request, view)
        return counter is None or self.allows(counter_add(*counter))

    def wait(self) -> float:
        return max(0.0, self.window_ends - self.now)


class ClaimView(APIView):
    """Lease the next task of a project to the signed-in annotator.

    `?prefetch=1` reserves one more task while the current one is open (the labeling page shows it
    at once after submit); release it with `POST /leases/{id}/release/` when leaving.
    """

    permission_classes = BASE_PERMISSIONS
    throttle_classes = [WorkThrottle]
    throttle_scope = "work"

    @extend_schema(
        request=None,
        responses={
            200: ClaimSerializer,
            404: OpenApiResponse(description="No work: extra.reason says why"),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        prefetch = request.query_params.get("prefetch") in {"1", "true"}
        return Response(
            work_claim(user=request_user(request), project_id=project_id, prefetch=prefetch)
        )


class LeaseViewSet(viewsets.GenericViewSet[Any]):
    """Your task lease: keep it alive, start a reserved one, submit the answer, skip or release it."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = LeaseSerializer
    queryset = Lease.objects.none()  # lookups go through the services, which scope to the caller
    throttle_classes = [WorkThrottle]
    throttle_scope = "work"

    @extend_schema(request=None, responses=LeaseSerializer)
    @action(detail=True, methods=["post"])
    def heartbeat(self, request: Request, pk: str) -> Response:
        lease = lease_heartbeat(lease_id=int(pk), user=request_user(request))
        return Response(LeaseSerializer(lease).data)

    @extend_schema(request=None, responses=LeaseSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        """Say that this reserved task is shown now: its lease is extended as by a heartbeat, and
        its active time starts now (the time it waited in reserve is not counted)."""
        lease = lease_start(lease_id=int(pk), user=request_user(request))
        return Response(LeaseSerializer(lease).data)

    @extend_schema(request=SubmitSerializer, responses={201: SubmittedSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        data = SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = work_submit(
            user=request_user(request), lease_id=int(pk), result=data.validated_data["result"]
        )
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=SkipSerializer, responses=LeaseSerializer)
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str) -> Response:
        data = SkipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lease = lease_skip(
            lease_id=int(pk),
            user=request_user(request),
            reason=data.validated_data.get("reason", ""),
        )
        return Response(LeaseSerializer(lease).data)

    @extend_schema(request=None, responses=LeaseSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        lease = lease_release(lease_id=int(pk), user=request_user(request))
        return Response(LeaseSerializer(lease).data)


class WorkProjectsView(APIView):
    """The active projects the signed-in annotator may open."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses=WorkProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        projects = policy.projects_workable_by(request.user).order_by("-priority", "name")
        return Response(WorkProjectSerializer(projects, many=True).data)
