"""Reads of stored Stripe events: finance's list, the counts by status, and what is due."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet

from payments.models import StripeEvent, StripeEventStatus


def stripe_events_list(
    *, status: str | None = None, type_prefix: str | None = None, search: str | None = None
) -> QuerySet[StripeEvent]:
    """Stored events, newest received first, optionally narrowed (without the payload)."""
    events = StripeEvent.objects.defer("payload").order_by("-received_at", "id")
    if status:
        events = events.filter(status=status)
    if type_prefix:
        events = events.filter(type__startswith=type_prefix)
    if search:
        events = (
            events.filter(id=search)
            | events.filter(object_id=search)
            | events.filter(account=search)
        )
    return events


def stripe_event_counts() -> dict[str, int]:
    """How many events are in each status (every status present, zero when none)."""
    counts = dict.fromkeys(StripeEventStatus.values, 0)
    for row in StripeEvent.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def stripe_events_overdue(*, cutoff: datetime, limit: int) -> list[tuple[str, int]]:
    """(id, attempts) of pending events whose next attempt fell due before `cutoff`, oldest first."""
    return list(
        StripeEvent.objects.filter(status=StripeEventStatus.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at", "id")
        .values_list("id", "attempts")[:limit]
    )
