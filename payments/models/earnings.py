"""Earnings: one row per priced piece of work, and what each person has finalised but not yet
moved to payable (the sub-minor-unit remainder). The rules of writing them are
payments/services/earnings.py; docs/earnings.md says the same to annotators and finance.

An earning per final task is keyed by its source (the annotation, the review verdict, or the
answered item of a training module or test); an earning per active hour by (person, project, day,
rate): its active seconds grow with each submission of that day, and each growth posts its own
ledger increment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.models import Project
from payments.models.ledger import LedgerTransaction
from payments.models.rates import Rate, RateCardVersion, RateUnit, WorkKind


class EarningStatus(models.TextChoices):
    PENDING = "pending", "Pending (work not final yet)"
    HELD = "held", "Held (waiting for finance)"
    PAYABLE = "payable", "Payable"
    REVERSED = "reversed", "Reversed"


class Earning(models.Model):
    """What one piece of work earned: an annotation, a review verdict or an answered training or
    test item at a per-task rate, or a person's active time on a project in a day at a per-hour
    rate."""

    # Every index is written by each submit that earns, twice when the work is final at once (the
    # status change is not a HOT update): the person's lookups use `payments_earning_user` (user,
    # status), so the foreign key has none of its own; nothing looks earnings up by their ledger
    # transactions (append-only, never deleted), so those keys have none either.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    work_kind = models.CharField(max_length=20, choices=WorkKind.choices)
    review_level = models.PositiveSmallIntegerField(default=0)
    unit = models.CharField(max_length=10, choices=RateUnit.choices)
    # labeling's ids, kept as plain numbers: the ledger outlives any cleanup of work rows.
    task_id = models.BigIntegerField(null=True, blank=True)
    annotation_id = models.BigIntegerField(null=True, blank=True)
    review_id = models.BigIntegerField(null=True, blank=True)
    # An answered item of a training module or qualification test (labeling.CheckAnswer).
    check_answer_id = models.BigIntegerField(null=True, blank=True)
    earned_on = models.DateField()
    active_seconds = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3)
    amount_micros = models.BigIntegerField()
    rate_version = models.ForeignKey(RateCardVersion, on_delete=models.PROTECT, related_name="+")
    rate = models.ForeignKey(Rate, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=EarningStatus.choices, default=EarningStatus.PENDING
    )
    # The ledger transactions behind it (an hourly earning's accruals are its increments, keyed
    # earning:accrue:<pk>:<submission>; `accrued_by` is then the first).
    accrued_by = models.ForeignKey(
        LedgerTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    finalised_by = models.ForeignKey(
        LedgerTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reversed_by = models.ForeignKey(
        LedgerTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reversal_reason = models.CharField(max_length=500, blank=True)
    # The review that rejected or overruled the work, when one did.
    reversal_review_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    finalised_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-earned_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["annotation_id"],
                condition=Q(review_id__isnull=True, annotation_id__isnull=False),
                name="payments_earning_one_per_annotation",
            ),
            models.UniqueConstraint(
                fields=["review_id"],
                condition=Q(review_id__isnull=False),
                name="payments_earning_one_per_review",
            ),
            models.UniqueConstraint(
                fields=["check_answer_id"],
                condition=Q(check_answer_id__isnull=False),
                name="payments_earning_one_per_check_answer",
            ),
            models.UniqueConstraint(
                fields=["user", "project", "earned_on", "rate"],
                condition=Q(unit=RateUnit.PER_HOUR),
                name="payments_earning_one_per_hourly_day",
            ),
            models.CheckConstraint(
                condition=(
                    Q(unit=RateUnit.PER_HOUR, task_id__isnull=True)
                    | (
                        Q(unit=RateUnit.PER_TASK, task_id__isnull=False)
                        & (
                            Q(annotation_id__isnull=False)
                            | Q(review_id__isnull=False)
                            | Q(check_answer_id__isnull=False)
                        )
                    )
                ),
                name="payments_earning_source_matches_unit",
            ),
            models.CheckConstraint(
                condition=Q(amount_micros__gte=0), name="payments_earning_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=EarningStatus.REVERSED) & ~Q(reversal_reason="")
                    | ~Q(status=EarningStatus.REVERSED) & Q(reversal_reason="")
                ),
                name="payments_earning_reversed_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status__in=EarningStatus.values), name="payments_earning_status_known"
            ),
        ]
        indexes = [
            models.Index(fields=["task_id", "status"], name="payments_earning_task"),
            models.Index(fields=["user", "status"], name="payments_earning_user"),
            # The hourly close's read (pending active-time earnings of days before a date), over
            # those rows only. It was (status, unit, earned_on) over every row, which also matched
            # a task's read of its pending earnings when a connection planned that read without
            # statistics (a fresh database before autovacuum): such a plan, kept by the
            # connection, read every pending earning of every task on each final submit.
            models.Index(
                fields=["earned_on"],
                condition=Q(status=EarningStatus.PENDING, unit=RateUnit.PER_HOUR),
                name="payments_earning_hourly_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Earning {self.pk} of user {self.user_id} ({self.status})"


class EarningRemainder(models.Model):
    """Per person and currency: micro-units of finalised earnings still in pending because they
    make less than one minor unit (0 <= micros < one minor unit, kept by the services)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    micros = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "currency"], name="payments_earning_remainder_one_per_currency"
            ),
        ]

    def __str__(self) -> str:
        return f"Remainder of user {self.user_id}: {self.micros} micros {self.currency}"
