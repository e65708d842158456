"""Annotators' work: the projects they may open, claiming the next task, and its lease (heartbeat,
start, submit, skip, release).

`work_claim` and `work_submit` are also what the short path of `labeling.api.hotpath` calls.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.models import User
from accounts.selectors import request_user
from core.api.routers import Router
from labeling import policy
from labeling.api.throttles import WorkThrottle
from labeling.models import Lease, Project, Task
from labeling.selectors import instructions_of
from labeling.services.claim import slot_claim_by_id
from labeling.services.claimed import Claim, ClaimOutcome
from labeling.services.leases import lease_heartbeat, lease_release, lease_start
from labeling.services.submit import lease_skip, lease_submit_outcome

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


router = Router()
router.register("leases", LeaseViewSet, basename="lease")

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects/<id:project_id>/claim/", ClaimView.as_view(), name="project-claim"),
    path("work/projects/", WorkProjectsView.as_view(), name="work-projects"),
    *router.urls,
]
