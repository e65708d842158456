"""The onboarding journey's history: every change of a person's journey state, for them and managers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class JourneyEvent(models.Model):
    """One move of a person's journey state: from where to where, who moved them, why, and the numbers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="journey_events"
    )
    from_status = models.CharField(max_length=40)
    to_status = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when Quorum moved them (a step completed, a quality rule).",
    )
    reason = models.CharField(max_length=300, blank=True)
    evidence = models.JSONField(null=True, blank=True, help_text="The numbers behind the move.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="workforce_journey_by_user"),
            models.Index(fields=["to_status", "created_at"], name="workforce_journey_by_state"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.from_status} -> {self.to_status}"
