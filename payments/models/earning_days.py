"""The daily rollup of what people earned, read by the Earnings pages instead of every ledger
entry of a person. Derived data: the ledger stays the truth, and the rollup is kept from it off
the submit path (payments/services/earning_days.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.models import Project


class EarningDay(models.Model):
    """What a person earned on one UTC day in one project and currency (accruals, reversals of
    accruals, pieces of work), or with no project the bonuses posted that day; summed from the
    ledger entries of every transaction up to the mark's `rolled_through_id`, never edited by
    hand."""

    # Indexed with the day below (a person's days in a range), not alone.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    currency = models.CharField(max_length=3)
    day = models.DateField()
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    earned_micros = models.BigIntegerField(default=0)
    reversed_micros = models.BigIntegerField(default=0)
    pieces = models.IntegerField(default=0)
    bonus_micros = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["user", "day", "project", "currency"]
        indexes = [models.Index(fields=["user", "day"], name="earning_day_user_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "day", "project", "currency"],
                condition=Q(project__isnull=False),
                name="earning_day_one_per_project",
            ),
            models.UniqueConstraint(
                fields=["user", "day", "currency"],
                condition=Q(project__isnull=True),
                name="earning_day_one_for_bonuses",
            ),
        ]

    def __str__(self) -> str:
        return f"Earnings of {self.user_id} on {self.day} in {self.project_id} ({self.currency})"


class EarningDayMark(models.Model):
    """How far the daily rollup has read the ledger: every entry of a transaction with an id up
    to `rolled_through_id` is in it, none after. `seen_id` is the highest id at the last run,
    rolled up at a later run once `seen_at` is older than the settling time (a transaction that
    took an id before it may still be committing)."""

    name = models.CharField(max_length=40, unique=True)
    rolled_through_id = models.BigIntegerField(default=0)
    seen_id = models.BigIntegerField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} rolled through transaction {self.rolled_through_id}"
