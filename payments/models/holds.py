"""Holds: an earning that would have become payable while its person was suspended, had an open
appeal, or while its task was under dispute, or whose work a quality rule discarded, waits here
for finance to release or forfeit it. Disputes of tasks are opened and closed by finance. Rules:
payments/services/holds.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.models import Project
from payments.models.earnings import Earning
from quality.models import RuleAction


class HoldCause(models.TextChoices):
    SUSPENDED = "suspended", "The person is suspended"
    APPEAL = "appeal", "The person has an open appeal"
    DISPUTE = "dispute", "The task is under dispute"
    DISCOUNTED = "discounted", "Work discarded by a quality rule"


class HoldResolution(models.TextChoices):
    RELEASED = "released", "Released (payable)"
    FORFEITED = "forfeited", "Forfeited (reversed)"


class Hold(models.Model):
    """One held earning, open until finance releases or forfeits it (with a reason). An earning
    has at most one open hold; one that finance released may be held again later (its work
    discarded by a quality rule after it was payable)."""

    earning = models.ForeignKey(Earning, on_delete=models.PROTECT, related_name="holds")
    cause = models.CharField(max_length=10, choices=HoldCause.choices)
    detail = models.CharField(max_length=500, blank=True)
    # The evidence of a discounted hold: the rule action that discarded the work (its rule, the
    # value measured, the items), kept as long as the hold is.
    rule_action = models.ForeignKey(
        RuleAction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    resolution = models.CharField(max_length=10, choices=HoldResolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(resolution="", resolved_at__isnull=True, resolution_reason="")
                    | (
                        Q(resolution__in=HoldResolution.values, resolved_at__isnull=False)
                        & ~Q(resolution_reason="")
                    )
                ),
                name="payments_hold_resolved_with_reason",
            ),
            models.CheckConstraint(
                condition=Q(cause__in=HoldCause.values), name="payments_hold_cause_known"
            ),
            models.CheckConstraint(
                condition=Q(rule_action__isnull=True) | Q(cause=HoldCause.DISCOUNTED),
                name="payments_hold_rule_action_discounted",
            ),
            models.UniqueConstraint(
                fields=["earning"],
                condition=Q(resolved_at__isnull=True),
                name="payments_hold_one_open_per_earning",
            ),
        ]
        indexes = [models.Index(fields=["resolved_at", "cause"], name="payments_hold_open")]

    def __str__(self) -> str:
        return f"Hold of earning {self.earning_id} ({self.cause})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class TaskDispute(models.Model):
    """A task whose work finance does not pay until the dispute is closed (its earnings are held
    when they would become payable)."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    task_id = models.BigIntegerField()
    reason = models.CharField(max_length=500)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["task_id"],
                condition=Q(closed_at__isnull=True),
                name="payments_dispute_one_open_per_task",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="payments_dispute_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Dispute of task {self.task_id}"
