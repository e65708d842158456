"""Stripe events received by the webhook endpoint: each stored once by its Stripe id, then
processed by a Celery task (payments/services/stripe_events.py, docs/payouts-stripe.md)."""

from __future__ import annotations

from django.db import models


class StripeEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (attempts ran out)"


class StripeEvent(models.Model):
    """One event Stripe sent, as received. Its `id` is Stripe's (evt_...), so a second delivery
    of the same event finds the row and is ignored; `payload` is kept for the record only:
    processing re-fetches the object it is about from Stripe."""

    id = models.CharField(primary_key=True, max_length=255)
    type = models.CharField(max_length=100)
    # The connected account the event happened on (Stripe's `account`); empty: the platform's.
    account = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    # When Stripe created the event (its `created`), which is not the order it arrives in.
    created = models.DateTimeField()
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=StripeEventStatus.choices, default=StripeEventStatus.PENDING
    )
    # When the next processing attempt is due (while one runs: when it may be taken over).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The handlers that processed it (empty when no handler is registered for its type).
    handled_by = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="stripe_event_due"),
            models.Index(fields=["-received_at"], name="stripe_event_received"),
            models.Index(fields=["type"], name="stripe_event_type"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status=StripeEventStatus.PROCESSED, processed_at__isnull=False)
                | (
                    ~models.Q(status=StripeEventStatus.PROCESSED)
                    & models.Q(processed_at__isnull=True)
                ),
                name="stripe_event_processed_at_iff_processed",
            ),
        ]

    def __str__(self) -> str:
        return f"Stripe event {self.id} ({self.type})"
