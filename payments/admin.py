"""Read-only inspection of payments for operators; every change goes through a service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import Conflict
from payments.models import StripeEvent, StripeEventStatus
from payments.services.stripe_events import stripe_event_retry


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    """Stripe events as received; "Retry processing" is the finance page's retry."""

    list_display = ["id", "type", "account", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["id", "account", "object_id"]
    ordering = ["-received_at"]
    actions = ["retry_processing"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

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
