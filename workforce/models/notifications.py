"""Notifications: what Quorum tells a person in the portal, and which kinds also go by e-mail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationKind(models.TextChoices):
    ACCOUNT_ACTIVATED = "account_activated", "Account activated"
    TEST_PASSED = "test_passed", "Test passed"
    TEST_FAILED = "test_failed", "Test failed"
    TRAINING_REQUIRED = "training_required", "Training required"
    PROMOTED = "promoted", "Promotion"
    DEMOTED = "demoted", "Demotion"
    SUSPENDED = "suspended", "Suspension"
    APPEAL_DECIDED = "appeal_decided", "Appeal decided"
    REWORK_RETURNED = "rework_returned", "Rework sent back"
    PAYOUT = "payout", "Payout paid or failed"
    MESSAGE = "message", "Message from your manager"


# Kinds that also go by e-mail until the person says otherwise: the ones that change whether
# they can work at all, or answer something they asked; and what a manager writes to them.
EMAIL_BY_DEFAULT = frozenset(
    {
        NotificationKind.ACCOUNT_ACTIVATED,
        NotificationKind.SUSPENDED,
        NotificationKind.APPEAL_DECIDED,
        NotificationKind.MESSAGE,
    }
)


class Notification(models.Model):
    """One message to one person, shown in the portal until they read it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="A path in the portal.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="workforce_notif_by_user"),
            models.Index(
                fields=["user"],
                condition=models.Q(read_at__isnull=True),
                name="workforce_notif_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class NotificationPreference(models.Model):
    """A person's choice to receive one kind by e-mail or not (absent: the kind's default)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    by_email = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="workforce_notif_pref_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} e-mail={self.by_email}"
