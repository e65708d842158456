"""Celery jobs that send customer webhooks: one attempt per run, retries scheduled by countdown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from core.errors import NotFound
from labeling.models import WebhookDelivery, WebhookDeliveryStatus
from labeling.services.webhook_delivery import webhook_delivery_attempt
from labeling.services.webhooks import WEBHOOK_DELIVER_TASK

__all__ = ["webhook_deliver", "webhook_deliveries_due"]

# The sweep leaves a delivery alone for this long after it fell due, so that it does not race
# the message that was scheduled for it; it only rescues deliveries whose message was lost.
SWEEP_GRACE = timedelta(minutes=1)
SWEEP_BATCH = 500


@shared_task(name=WEBHOOK_DELIVER_TASK, bind=True, ignore_result=True)
def webhook_deliver(self: Task[Any, Any], delivery_id: int, attempt: int | None = None) -> None:
    """Make the next attempt of a delivery; when it fails, schedule the retry for when it is due.

    `attempt` is the number of attempts already made when this message was sent; a message that
    comes after that attempt was made anyway (a duplicate, a redelivery, a sweep) does nothing.
    """
    made = WebhookDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first()
    if made is None or (attempt is not None and made != attempt):
        return
    try:
        delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    except NotFound:
        return  # the endpoint was deleted meanwhile, and its deliveries with it
    if (
        delivery.status != WebhookDeliveryStatus.PENDING
        or delivery.attempts != made + 1
        or delivery.next_attempt_at is None
    ):
        # Finished, not due yet, or another worker made this attempt and schedules the next one.
        return
    countdown = max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds())
    self.apply_async(args=(delivery_id, delivery.attempts), countdown=countdown)


@shared_task(name="labeling.tasks.webhook_deliveries_due", ignore_result=True)
def webhook_deliveries_due() -> int:
    """Queue pending deliveries that are overdue (their worker died or their message was lost).

    Returns how many were queued; runs from the beat schedule every minute.
    """
    cutoff = timezone.now() - SWEEP_GRACE
    overdue = list(
        WebhookDelivery.objects.filter(
            status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=cutoff
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "attempts")[:SWEEP_BATCH]
    )
    for delivery_id, attempts in overdue:
        webhook_deliver.apply_async(args=(delivery_id, attempts))
    return len(overdue)
