"""Read-only inspection of payments for operators: payout details appear masked, never
decrypted; every change goes through the portal, the API or a service (which keep the history and
the audit)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import InspectOnly
from core.errors import Conflict
from payments.models import (
    BankDetails,
    Earning,
    Hold,
    PayoutAccount,
    PayoutAccountEvent,
    PayoutCountryProviders,
    StripeConnectedAccount,
    StripeEvent,
    StripeEventStatus,
)
from payments.services.stripe_events import stripe_event_retry


@admin.register(StripeEvent)
class StripeEventAdmin(InspectOnly):
    """Stripe events as received; "Retry processing" is the finance page's retry."""

    list_display = ["id", "type", "account", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["id", "account", "object_id"]
    ordering = ["-received_at"]
    actions = ["retry_processing"]

    @admin.action(description="Retry processing the selected events")
    def retry_processing(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        retried = 0
        for event_id in queryset.exclude(status=StripeEventStatus.PROCESSED).values_list(
            "pk", flat=True
        ):
            try:
                stripe_event_retry(event_id=event_id, actor=request.user)
            except Conflict:
                continue  # processed meanwhile
            retried += 1
        self.message_user(
            request, f"{retried} event(s) queued to be processed again.", messages.SUCCESS
        )


class BankDetailsInline(admin.TabularInline):
    model = BankDetails
    # The ciphertext is not shown either: nothing in the admin can lead to the details.
    fields = ("state", "scheme", "country", "currency", "masked", "submitted_at", "confirmed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PayoutAccount)
class PayoutAccountAdmin(InspectOnly):
    list_display = ["user", "provider", "status", "country", "currency", "usable_from"]
    list_filter = ["provider", "status"]
    search_fields = ["user__email"]
    inlines = [BankDetailsInline]


@admin.register(BankDetails)
class BankDetailsAdmin(InspectOnly):
    list_display = ["masked", "account", "state", "scheme", "country", "submitted_at"]
    list_filter = ["state", "scheme"]
    fields = ("account", "state", "scheme", "country", "currency", "masked", "submitted_at")
    readonly_fields = fields


@admin.register(PayoutAccountEvent)
class PayoutAccountEventAdmin(InspectOnly):
    list_display = ["account", "kind", "masked_before", "masked_after", "actor", "created_at"]
    list_filter = ["kind"]


@admin.register(PayoutCountryProviders)
class PayoutCountryProvidersAdmin(InspectOnly):
    list_display = ["country", "providers", "updated_by", "updated_at"]


@admin.register(StripeConnectedAccount)
class StripeConnectedAccountAdmin(InspectOnly):
    list_display = [
        "stripe_account",
        "user",
        "country",
        "payouts_enabled",
        "transfers_status",
        "disabled_reason",
        "synced_at",
    ]
    list_filter = ["payouts_enabled", "transfers_status", "is_deleted"]
    search_fields = ["stripe_account", "user__email"]


@admin.register(Earning)
class EarningAdmin(InspectOnly):
    """Earnings as recorded; changes go through holds (finance pages) and labeling's events."""

    list_display = [
        "id",
        "user",
        "project",
        "work_kind",
        "unit",
        "task_id",
        "currency",
        "amount_micros",
        "status",
        "earned_on",
    ]
    list_filter = ["status", "unit", "work_kind", "currency"]
    search_fields = ["user__email", "task_id", "annotation_id", "review_id"]
    ordering = ["-pk"]


@admin.register(Hold)
class HoldAdmin(InspectOnly):
    """Held earnings; finance releases or forfeits them on the holds page."""

    list_display = ["id", "earning", "cause", "created_at", "resolution", "resolved_at"]
    list_filter = ["cause", "resolution"]
    ordering = ["-pk"]
