"""Incentive programs: what finance promises for throughput and quality, in versions, and the
record of each closed period (one bonus line per person, with the figures that produced it).

A program has a scope (one project, one team's current members, or everyone), a period (a UTC
day or an ISO week, Monday to Monday) and a currency. What it pays lives in its versions, each
effective from a moment not before its making; a change is a new version. A period is judged by
the version in force at the period's end (its close). The formula is payments/incentive_rules.py;
the writes payments/services/incentives.py; docs/incentives.md explains it to finance.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from labeling.models import Project
from payments.incentive_rules import BudgetPolicy, RewardKind
from workforce.models import Team


class IncentiveImmutableError(RuntimeError):
    """Raised on an attempt to change a version or a bonus line's figures: add a new version."""


class IncentiveScope(models.TextChoices):
    PROJECT = "project", "One project"
    TEAM = "team", "One team"
    EVERYONE = "everyone", "Everyone"


class IncentivePeriodKind(models.TextChoices):
    DAY = "day", "Day (UTC)"
    WEEK = "week", "Week (ISO, Monday 00:00 UTC)"


class IncentiveProgram(models.Model):
    """A program: its scope, its period and its currency. What it pays is in its versions."""

    name = models.CharField(max_length=120)
    scope = models.CharField(max_length=10, choices=IncentiveScope.choices)
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    period = models.CharField(max_length=10, choices=IncentivePeriodKind.choices)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope=IncentiveScope.PROJECT, project__isnull=False, team__isnull=True)
                    | Q(scope=IncentiveScope.TEAM, project__isnull=True, team__isnull=False)
                    | Q(scope=IncentiveScope.EVERYONE, project__isnull=True, team__isnull=True)
                ),
                name="payments_incentive_scope_matches_owner",
            ),
            models.CheckConstraint(
                condition=Q(period__in=IncentivePeriodKind.values),
                name="payments_incentive_period_known",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payments_incentive_currency"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IncentiveVersion(models.Model):
    """What a program pays from `effective_from` until its next version takes over. Written
    once: a period closed under it records it, so it never changes."""

    program = models.ForeignKey(IncentiveProgram, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=[(k.value, k.value.title()) for k in RewardKind])
    # A list of tiers: {"reward": int, "min_final_tasks": int|null, ...} (incentive_rules.Tier).
    tiers = models.JSONField()
    cap_minor = models.BigIntegerField(null=True, blank=True, help_text="Per person and period.")
    budget_minor = models.BigIntegerField(null=True, blank=True, help_text="Per period, in all.")
    budget_policy = models.CharField(
        max_length=8,
        choices=[(p.value, p.value.title()) for p in BudgetPolicy],
        default=BudgetPolicy.SCALE,
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["program_id", "-effective_from", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "number"], name="payments_incentive_version_number"
            ),
            models.UniqueConstraint(
                fields=["program", "effective_from"], name="payments_incentive_version_moment"
            ),
            models.CheckConstraint(
                condition=Q(effective_from__gte=F("created_at")),
                name="payments_incentive_version_not_retroactive",
            ),
            models.CheckConstraint(
                condition=Q(cap_minor__isnull=True) | Q(cap_minor__gt=0),
                name="payments_incentive_version_cap_positive",
            ),
            models.CheckConstraint(
                condition=Q(budget_minor__isnull=True) | Q(budget_minor__gt=0),
                name="payments_incentive_version_budget_positive",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in RewardKind]),
                name="payments_incentive_version_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(budget_policy__in=[p.value for p in BudgetPolicy]),
                name="payments_incentive_version_policy_known",
            ),
        ]

    def __str__(self) -> str:
        return f"Version {self.number} of {self.program}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise IncentiveImmutableError("A program version is never changed; add a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise IncentiveImmutableError("A program version is never deleted; add a new one.")


class IncentivePeriodStatus(models.TextChoices):
    CLOSING = "closing", "Closing"
    CLOSED = "closed", "Closed"


class IncentivePeriod(models.Model):
    """One closed (or closing) period of a program: the version it was judged by, the progress of
    the close, and its totals. Created when the close starts; closing it again does nothing."""

    program = models.ForeignKey(IncentiveProgram, on_delete=models.PROTECT, related_name="periods")
    version = models.ForeignKey(IncentiveVersion, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=IncentivePeriodStatus.choices, default=IncentivePeriodStatus.CLOSING
    )
    # Progress of the close: people judged (phase 1), then lines posted (phase 2).
    people_total = models.PositiveIntegerField(default=0)
    people_done = models.PositiveIntegerField(default=0)
    lines_computed = models.BooleanField(default=False)
    lines_posted = models.PositiveIntegerField(default=0)
    awarded_before_budget_minor = models.BigIntegerField(default=0)
    paid_minor = models.BigIntegerField(default=0)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "program_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "starts_at"], name="payments_incentive_period_once"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="payments_incentive_period_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} from {self.starts_at:%Y-%m-%d}"

    @property
    def progress_percent(self) -> int:
        """How far the close is: judging counts for the first half, posting for the second."""
        if self.status == IncentivePeriodStatus.CLOSED:
            return 100
        if not self.people_total:
            return 50 if self.lines_computed else 0
        judged = 50 * self.people_done // self.people_total
        posted = 50 * self.lines_posted // self.people_total if self.lines_computed else 0
        return min(99, judged + posted)


class IncentiveBonusLine(models.Model):
    """A person's result in a closed period: the figures they were judged on, the tier met, the
    amount before and after the cap and the budget, and the ledger transaction that paid it
    (none for zero). Its figures are written once; only the posting fields are filled later."""

    period = models.ForeignKey(IncentivePeriod, on_delete=models.PROTECT, related_name="lines")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incentive_lines"
    )
    version = models.ForeignKey(IncentiveVersion, on_delete=models.PROTECT, related_name="+")
    figures = models.JSONField(help_text="The measures and the checks against the tier.")
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    computed_minor = models.BigIntegerField()
    capped_minor = models.BigIntegerField()
    amount_minor = models.BigIntegerField(null=True, blank=True, help_text="After the budget.")
    rank_tier = models.IntegerField(help_text="The stop order: -tier, then -final tasks, user.")
    rank_final_tasks = models.IntegerField()
    transaction = models.OneToOneField(
        "payments.LedgerTransaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incentive_line",
    )

    class Meta:
        ordering = ["period_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["period", "user"], name="payments_incentive_line_once"),
            models.CheckConstraint(
                condition=Q(capped_minor__lte=F("computed_minor")) & Q(capped_minor__gte=0),
                name="payments_incentive_line_cap_order",
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__isnull=True)
                | (Q(amount_minor__gte=0) & Q(amount_minor__lte=F("capped_minor"))),
                name="payments_incentive_line_budget_order",
            ),
        ]
        indexes = [
            models.Index(
                fields=["period", "rank_tier", "rank_final_tasks", "user"],
                name="payments_incentive_line_rank",
            ),
        ]

    def __str__(self) -> str:
        return f"Bonus line of user {self.user_id} in period {self.period_id}"
