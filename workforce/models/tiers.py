"""Standing and tiers: the decisions taken about a person from their measured record.

`quality` measures and decides; these are the records `workforce` keeps of it:

- `StandingDecision`: a change of standing (probation passed, sent back to training) with the
  numbers that caused it.
- `TierReading`: one weekly computation's verdict on a person (promote, demote or hold), kept so
  that a change needs the same verdict on two consecutive weeks (hysteresis).
- `TierCandidate`: a promotion or demotion waiting for a manager; one pending per person.
- `LeadGrant`: the lead tier, granted by a manager (the top tier; reviewer levels are roles).

A tier is written "annotator", "reviewer-<level>" or "lead" (see `workforce.selectors.tiers`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class StandingDecisionKind(models.TextChoices):
    PROBATION_PASSED = "probation_passed", "Probation passed: now active"
    RETRAINING = "retraining", "Sent back to training"


class StandingDecision(models.Model):
    """A change of a person's standing and the evidence (n, successes, interval...) behind it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="standing_decisions"
    )
    kind = models.CharField(max_length=20, choices=StandingDecisionKind.choices)
    evidence = models.JSONField(
        default=dict,
        help_text="n, successes, accuracy, low, high, threshold, window: the numbers it rests on.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: decided automatically from the evidence.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="workforce_standing_by_user"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for user {self.user_id}"


class TierSignal(models.TextChoices):
    PROMOTE = "promote", "Promote"
    DEMOTE = "demote", "Demote"
    HOLD = "hold", "Hold"


class TierReading(models.Model):
    """One weekly computation's verdict on a person; one per person and week."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="The Monday of the computation's week (UTC).")
    tier = models.CharField(max_length=20)
    signal = models.CharField(max_length=10, choices=TierSignal.choices)
    evidence = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "week"], name="workforce_tierreading_weekly"),
        ]

    def __str__(self) -> str:
        return f"{self.signal} for user {self.user_id} in the week of {self.week}"


class TierDirection(models.TextChoices):
    PROMOTION = "promotion", "Promotion"
    DEMOTION = "demotion", "Demotion"


class CandidateState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    SUPERSEDED = "superseded", "Superseded"


class TierCandidate(models.Model):
    """A proposed move to another tier with its evidence; a manager approves or declines it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tier_candidacies"
    )
    from_tier = models.CharField(max_length=20)
    to_tier = models.CharField(max_length=20)
    direction = models.CharField(max_length=10, choices=TierDirection.choices)
    evidence = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(
        max_length=10, choices=CandidateState.choices, default=CandidateState.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["computed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(state="pending"),
                name="workforce_tiercandidate_one_pending",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "computed_at"], name="workforce_tiercand_by_state"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} of user {self.user_id}: {self.from_tier} -> {self.to_tier}"


class LeadGrant(models.Model):
    """The lead tier: granted to a person by a manager (or by approving a candidate)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lead_grant"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id} is a lead"
