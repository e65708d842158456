"""Held earnings: finance lists them (open or resolved, by cause, person and project), releases
one (it becomes payable) or forfeits one (it is reversed), always with a reason and with MFA;
and opens or closes disputes of tasks. Money is integer micro-units plus a display string.
Anyone but finance is refused (403). Wired into payments/api/urls.py."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from core.errors import ValidationFailed
from kit.money import Micros, format_micros
from labeling.models import Project
from payments.models import Earning, Hold, HoldCause, TaskDispute
from payments.selectors.holds import disputes_open, holds_list
from payments.services.holds import (
    hold_forfeit,
    hold_release,
    task_dispute_close,
    task_dispute_open,
)

TAGS = ["holds"]


class HeldEarningSerializer(serializers.ModelSerializer[Earning]):
    amount_display = serializers.SerializerMethodField()

    class Meta:
        model = Earning
        fields = [
            "id",
            "user",
            "project",
            "work_kind",
            "review_level",
            "unit",
            "task_id",
            "annotation_id",
            "review_id",
            "check_answer_id",
            "earned_on",
            "currency",
            "amount_micros",
            "amount_display",
            "status",
            "reversal_reason",
        ]
        read_only_fields = fields

    def get_amount_display(self, earning: Earning) -> str:
        return format_micros(Micros(earning.amount_micros, earning.currency))


class HoldSerializer(serializers.ModelSerializer[Hold]):
    earning = HeldEarningSerializer(read_only=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Hold
        fields = [
            "id",
            "earning",
            "cause",
            "detail",
            "rule_action",
            "created_at",
            "is_open",
            "resolution",
            "resolved_at",
            "resolved_by",
            "resolution_reason",
        ]
        read_only_fields = fields


class HoldReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500)


class HoldFilter(FilterSet):
    is_open = django_filters.BooleanFilter(field_name="resolved_at", lookup_expr="isnull")
    cause = django_filters.ChoiceFilter(choices=HoldCause.choices)
    person = IdFilter(field_name="earning__user")
    project = IdFilter(field_name="earning__project")

    class Meta:
        model = Hold
        fields = ["is_open", "cause", "person", "project"]


@extend_schema(tags=TAGS)
class HoldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Hold]):
    """Held earnings, newest first. Releasing or forfeiting one needs a reason; a hold already
    resolved answers 409."""

    serializer_class = HoldSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.HOLDS_MANAGE
    filterset_class = HoldFilter

    def get_queryset(self) -> QuerySet[Hold]:
        return holds_list(is_open=None)

    def _resolve(self, request: Request, release: bool) -> Response:
        data = HoldReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        service = hold_release if release else hold_forfeit
        hold = service(
            hold=self.get_object(),
            actor=request_user(request),
            reason=data.validated_data["reason"],
        )
        return Response(HoldSerializer(self.get_queryset().get(pk=hold.pk)).data)

    @extend_schema(request=HoldReasonSerializer, responses=HoldSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        """Release the hold: its earning becomes payable."""
        return self._resolve(request, release=True)

    @extend_schema(request=HoldReasonSerializer, responses=HoldSerializer)
    @action(detail=True, methods=["post"])
    def forfeit(self, request: Request, pk: str | None = None) -> Response:
        """Forfeit the hold: its earning is reversed with the reason."""
        return self._resolve(request, release=False)


class TaskDisputeSerializer(serializers.ModelSerializer[TaskDispute]):
    class Meta:
        model = TaskDispute
        fields = ["id", "project", "task_id", "reason", "opened_at", "opened_by", "closed_at"]
        read_only_fields = ["id", "opened_at", "opened_by", "closed_at"]
        extra_kwargs = {"project": {"queryset": Project.objects.all()}}


@extend_schema(tags=TAGS)
class DisputeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[TaskDispute],
):
    """Open disputes of tasks: while one is open, the task's pay is held when it would become
    payable. Finance opens one (409 when the task already has one) and closes it."""

    serializer_class = TaskDisputeSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.HOLDS_MANAGE

    def get_queryset(self) -> QuerySet[TaskDispute]:
        if self.action in {"retrieve", "close"}:
            return TaskDispute.objects.select_related("project").order_by("-opened_at", "-pk")
        return disputes_open()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = TaskDisputeSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationFailed(
                "The dispute is not valid.",
                fields={k: [str(m) for m in v] for k, v in data.errors.items()},
            )
        values = data.validated_data
        dispute = task_dispute_open(
            project=values["project"],
            task_id=values["task_id"],
            reason=values["reason"],
            actor=request_user(request),
        )
        return Response(TaskDisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=TaskDisputeSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        """Close the dispute (what it held stays held until resolved one by one)."""
        dispute = task_dispute_close(dispute=self.get_object(), actor=request_user(request))
        return Response(TaskDisputeSerializer(dispute).data)


router = Router()
router.register("holds", HoldViewSet, basename="hold")
router.register("disputes", DisputeViewSet, basename="dispute")

urlpatterns = router.urls
