"""The API of payout runs (wired into payments/api/urls.py): finance lists, creates, approves
(a second finance user), cancels and checks runs, reads their items and exclusions, retries
failed items and marks bank-file items, downloads a bank-file run's payment file
(`bank-file/?format=csv|pain001`) and uploads the bank's report (`bank-results/`); everyone
reads their own payouts at /me/payouts/.
Every write needs finance with MFA (BASE_PERMISSIONS refuses a finance user without it, and
the services check the creator and approver again). Amounts are integers of minor units plus
a display string, never floats."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from accounts.selectors import request_user
from core.api.filters import FilterSet
from core.api.routers import Router
from core.errors import ValidationFailed
from kit.money import CURRENCY_EXPONENTS
from payments.models import (
    PayoutExclusion,
    PayoutItem,
    PayoutItemStatus,
    PayoutProvider,
    PayoutRun,
    PayoutRunStatus,
)
from payments.selectors.payout_runs import (
    minor_display,
    payout_exclusions_of,
    payout_item_expected_arrival,
    payout_items_visible_to,
    payout_run_freeze_percent,
    payout_run_progress,
    payout_runs_visible_to,
)
from payments.services.bank_file_runs import (
    BANK_FILE_FORMATS,
    BANK_REPORT_MAX_BYTES,
    payout_run_bank_file,
    payout_run_bank_results_apply,
)
from payments.services.payout_runs import (
    payout_item_mark_failed,
    payout_item_mark_paid,
    payout_item_retry,
    payout_run_approve,
    payout_run_cancel,
    payout_run_create,
    payout_runs_reconcile,
)

TAGS = ["payout runs"]
MINOR_HELP = "Whole minor units (cents) of the run's currency; an integer, never a float."


class PayoutRunSerializer(serializers.ModelSerializer[PayoutRun]):
    frozen_total_display = serializers.SerializerMethodField()
    progress_percent = serializers.SerializerMethodField(
        help_text="Whole percent of the items settled (of the people looked at while freezing)."
    )
    counts = serializers.SerializerMethodField(help_text="Items per status.")
    frozen_total_minor = serializers.IntegerField(read_only=True, help_text=MINOR_HELP)
    minimum_minor = serializers.IntegerField(read_only=True, help_text=MINOR_HELP)

    class Meta:
        model = PayoutRun
        fields = [
            "id",
            "currency",
            "period_start",
            "period_end",
            "provider",
            "status",
            "transfer_group",
            "minimum_minor",
            "created_by",
            "approved_by",
            "cancelled_by",
            "created_at",
            "frozen_at",
            "approved_at",
            "cancelled_at",
            "done_at",
            "item_count",
            "excluded_count",
            "frozen_total_minor",
            "frozen_total_display",
            "progress_percent",
            "counts",
            "reconciled_at",
            "reconciliation_differences",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_frozen_total_display(self, run: PayoutRun) -> str:
        return minor_display(run.frozen_total_minor, run.currency)

    @extend_schema_field(serializers.IntegerField())
    def get_progress_percent(self, run: PayoutRun) -> int:
        if run.status == PayoutRunStatus.DRAFT:
            return payout_run_freeze_percent(run)
        return payout_run_progress(run).percent

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_counts(self, run: PayoutRun) -> dict[str, int]:
        return payout_run_progress(run).counts


class PayoutRunCreateSerializer(serializers.Serializer[Any]):
    currency = serializers.ChoiceField(choices=sorted(CURRENCY_EXPONENTS))
    provider = serializers.ChoiceField(choices=PayoutProvider.choices)
    period_start = serializers.DateField()
    period_end = serializers.DateField()


class PayoutReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500)


class PayoutReferenceSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="The bank's reference."
    )


class PayoutItemSerializer(serializers.ModelSerializer[PayoutItem]):
    currency = serializers.CharField(source="run.currency", read_only=True)
    amount_minor = serializers.IntegerField(read_only=True, help_text=MINOR_HELP)
    amount_display = serializers.SerializerMethodField()
    expected_arrival = serializers.SerializerMethodField(
        help_text="When the money should reach the bank; empty for failed or returned payouts."
    )
    idempotency_key = serializers.CharField(read_only=True)

    class Meta:
        model = PayoutItem
        fields = [
            "id",
            "run",
            "person",
            "currency",
            "amount_minor",
            "amount_display",
            "status",
            "attempt",
            "idempotency_key",
            "provider_reference",
            "provider_message",
            "settled_at",
            "expected_arrival",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_amount_display(self, item: PayoutItem) -> str:
        return minor_display(item.amount_minor, item.run.currency)

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_expected_arrival(self, item: PayoutItem) -> str | None:
        arrival = payout_item_expected_arrival(item)
        return arrival.isoformat() if arrival else None


class PayoutExclusionSerializer(serializers.ModelSerializer[PayoutExclusion]):
    payable_minor = serializers.IntegerField(read_only=True, help_text=MINOR_HELP)

    class Meta:
        model = PayoutExclusion
        fields = ["id", "person", "payable_minor", "code", "reason"]
        read_only_fields = fields


class PayoutRunFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=PayoutRunStatus.choices)
    currency = django_filters.CharFilter(max_length=3)

    class Meta:
        model = PayoutRun
        fields = ["status", "currency"]


class PayoutItemFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=PayoutItemStatus.choices)

    class Meta:
        model = PayoutItem
        fields = ["status", "run"]


class BankResultsUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text="The bank's report: a CSV with the columns reference, status (paid or failed) "
        f"and optionally message; at most {BANK_REPORT_MAX_BYTES // (1024 * 1024)} MB."
    )


class BankResultsAppliedSerializer(serializers.Serializer[Any]):
    paid = serializers.ListField(
        child=serializers.IntegerField(), help_text="Items marked paid by this report."
    )
    failed = serializers.ListField(
        child=serializers.IntegerField(), help_text="Items marked failed by this report."
    )
    repeated = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Items already settled as their line says (a report sent again): unchanged.",
    )
    run = PayoutRunSerializer()


class FileFormatNegotiation(DefaultContentNegotiation):
    """Answer errors as JSON: `?format=` names the bank file's format here, not a renderer."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


WRITES = {
    "create",
    "approve",
    "cancel",
    "reconcile",
    "retry",
    "mark_paid",
    "mark_failed",
    "bank_file",
    "bank_results",
}


@extend_schema(tags=TAGS)
class PayoutRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[PayoutRun],
):
    """Payout runs, newest first (finance). Creating one freezes it in the background; a
    second finance user approves it; until then it can be cancelled."""

    serializer_class = PayoutRunSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    filterset_class = PayoutRunFilter
    queryset = PayoutRun.objects.none()

    @property
    def policy_action(self) -> Action:
        return Action.PAYOUT_RUNS_MANAGE if self.action in WRITES else Action.PAYOUT_RUNS_VIEW

    def get_queryset(self) -> QuerySet[PayoutRun]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return payout_runs_visible_to(self.request.user)

    def _shown(self, run_id: int) -> Response:
        return Response(PayoutRunSerializer(self.get_queryset().get(pk=run_id)).data)

    @extend_schema(request=PayoutRunCreateSerializer, responses={201: PayoutRunSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = PayoutRunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = payout_run_create(actor=request_user(request), **data.validated_data)
        shown = PayoutRunSerializer(self.get_queryset().get(pk=run.pk)).data
        return Response(shown, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            200: PayoutRunSerializer,
            403: OpenApiResponse(
                description="Not finance, no MFA (code mfa_required), or the run's creator "
                "(code four_eyes)."
            ),
            409: OpenApiResponse(description="The run is not frozen."),
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a frozen run as the second finance user; its items are then paid."""
        run = self.get_object()
        payout_run_approve(run_id=run.pk, actor=request_user(request))
        return self._shown(run.pk)

    @extend_schema(
        request=PayoutReasonSerializer,
        responses={200: PayoutRunSerializer, 409: OpenApiResponse(description="Approved already.")},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a run before approval: every amount goes back to payable."""
        run = self.get_object()
        data = PayoutReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payout_run_cancel(
            run_id=run.pk, actor=request_user(request), reason=data.validated_data["reason"]
        )
        return self._shown(run.pk)

    @extend_schema(request=None, responses=PayoutRunSerializer)
    @action(detail=True, methods=["post"])
    def reconcile(self, request: Request, pk: str | None = None) -> Response:
        """Check the run against the ledger and the provider now; the differences are stored
        on the run (`reconciliation_differences`, each with what to do)."""
        run = self.get_object()
        payout_runs_reconcile(run_ids=[run.pk])
        return self._shown(run.pk)

    @extend_schema(
        responses=PayoutItemSerializer(many=True),
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=PayoutItemStatus.values,
                description="Only items in this status.",
            )
        ],
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def items(self, request: Request, pk: str | None = None) -> Response:
        """The run's items (filter by status)."""
        run = self.get_object()
        items = run.items.select_related("run").order_by("pk")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in PayoutItemStatus.values:
                raise ValidationFailed(
                    "Unknown status.",
                    fields={"status": [f"Use one of {', '.join(PayoutItemStatus.values)}."]},
                )
            items = items.filter(status=wanted)
        return self._page(items, PayoutItemSerializer)

    @extend_schema(responses=PayoutExclusionSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def exclusions(self, request: Request, pk: str | None = None) -> Response:
        """The people with a payable balance the run does not pay, and why."""
        return self._page(payout_exclusions_of(self.get_object()), PayoutExclusionSerializer)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=list(BANK_FILE_FORMATS),
                required=True,
                description="csv: the bulk-payment CSV (any currency); pain001: SEPA credit "
                "transfer XML (EUR runs only).",
            )
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/xml"): OpenApiTypes.BINARY,
            400: OpenApiResponse(
                description="An unknown format, or pain001 for a run not in EUR "
                "(extra.fields.format); or a payment the file cannot carry (code "
                "bank_file_invalid, extra.errors naming the row)."
            ),
            409: OpenApiResponse(
                description="Not an approved bank-file run, no item waits in the bank file, or "
                "a person's bank details cannot be used now (code bank_details_unavailable, "
                "extra.errors naming each item and person)."
            ),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="bank-file",
        filterset_class=None,
        content_negotiation_class=FileFormatNegotiation,
    )
    def bank_file(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The payment file of the run's items waiting in the bank file, for the bank (finance
        with MFA). Each download is audited; the file is not kept."""
        run = self.get_object()
        made = payout_run_bank_file(
            run=run, actor=request_user(request), fmt=str(request.query_params.get("format", ""))
        )
        response = HttpResponse(made.content, content_type=made.content_type)
        response["Content-Disposition"] = content_disposition_header(True, made.filename)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        request={"multipart/form-data": BankResultsUploadSerializer},
        responses={
            200: BankResultsAppliedSerializer,
            400: OpenApiResponse(
                description="The report was not applied: unreadable, too large or empty "
                "(extra.fields.file), or a line naming an unknown item, an item of another run, "
                "an item not waiting in the bank file, or contradicting how its item was settled "
                "(code bank_file_invalid, extra.errors with each line and column)."
            ),
            409: OpenApiResponse(description="Not an approved bank-file run."),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="bank-results",
        filterset_class=None,
        parser_classes=[MultiPartParser, FormParser],
    )
    def bank_results(self, request: Request, pk: str | None = None) -> Response:
        """Apply the bank's report to the run: each line marks its item paid or failed (the
        ledger moves and the person is told); all or nothing; a repeated line changes nothing."""
        run = self.get_object()
        data = BankResultsUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # One byte more than the limit is enough for the service to refuse a larger file.
        content = data.validated_data["file"].read(BANK_REPORT_MAX_BYTES + 1)
        applied = payout_run_bank_results_apply(run=run, actor=request_user(request), data=content)
        shown = PayoutRunSerializer(self.get_queryset().get(pk=run.pk)).data
        body = {
            "paid": applied.paid,
            "failed": applied.failed,
            "repeated": applied.repeated,
            "run": shown,
        }
        return Response(body)

    def _page(
        self, rows: QuerySet[Any], serializer: type[serializers.BaseSerializer[Any]]
    ) -> Response:
        """One page of rows of another model than the run, in the API's pagination."""
        assert self.paginator is not None  # noqa: S101  (the API sets a default pagination)
        page = self.paginator.paginate_queryset(rows, self.request, view=self)
        return self.paginator.get_paginated_response(serializer(page, many=True).data)


@extend_schema(tags=TAGS)
class PayoutItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[PayoutItem]
):
    """Payout items: finance sees everyone's; anyone else only their own. Finance retries a
    failed or returned item (a new attempt with a new idempotency key) and marks bank-file
    items paid or failed from the bank's report."""

    serializer_class = PayoutItemSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    filterset_class = PayoutItemFilter
    queryset = PayoutItem.objects.none()

    # Reads are scoped by payout_items_visible_to; writes are finance's.
    policy_action = Action.PAYOUT_RUNS_MANAGE

    def get_permissions(self) -> list[Any]:
        if self.action in WRITES:
            return list(super().get_permissions())
        return [permission() for permission in BASE_PERMISSIONS]

    def get_queryset(self) -> QuerySet[PayoutItem]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return payout_items_visible_to(self.request.user)

    def _shown(self, item_id: int) -> Response:
        return Response(PayoutItemSerializer(self.get_queryset().get(pk=item_id)).data)

    @extend_schema(
        request=None,
        responses={200: PayoutItemSerializer, 409: OpenApiResponse(description="Not failed.")},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        payout_item_retry(item_id=item.pk, actor=request_user(request))
        return self._shown(item.pk)

    @extend_schema(request=PayoutReferenceSerializer, responses=PayoutItemSerializer)
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        data = PayoutReferenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payout_item_mark_paid(
            item_id=item.pk,
            actor=request_user(request),
            reference=data.validated_data.get("reference", ""),
        )
        return self._shown(item.pk)

    @extend_schema(request=PayoutReasonSerializer, responses=PayoutItemSerializer)
    @action(detail=True, methods=["post"], url_path="mark-failed")
    def mark_failed(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        data = PayoutReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payout_item_mark_failed(
            item_id=item.pk, actor=request_user(request), reason=data.validated_data["reason"]
        )
        return self._shown(item.pk)


@extend_schema(tags=TAGS)
class MyPayoutsView(ListAPIView[PayoutItem]):
    """The caller's own payouts, newest first, with status and expected arrival."""

    serializer_class = PayoutItemSerializer
    permission_classes = BASE_PERMISSIONS
    queryset = PayoutItem.objects.none()

    def get_queryset(self) -> QuerySet[PayoutItem]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        user = self.request.user
        return payout_items_visible_to(user).filter(person_id=user.pk)


router = Router()
router.register("payout-runs", PayoutRunViewSet, basename="payout-run")
router.register("payout-items", PayoutItemViewSet, basename="payout-item")

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/payouts/", MyPayoutsView.as_view(), name="my-payouts"),
    *router.urls,
]
