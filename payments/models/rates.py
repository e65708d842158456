"""Rate cards: what work pays, per project or as a customer's default, in versions.

A `RateCard` belongs to a customer; with a project it is that project's card, without one it is
the customer's default for their projects that have no card of their own. A card changes only by
gaining a `RateCardVersion`, effective from a moment that is not in the past when it is made;
its `Rate` rows are written once. A version in force is never changed or removed (earnings record
the version they used); a version not yet in force may be withdrawn. The rules of writing them
are payments/services/rates.py; the lookup that picks a rate is payments/selectors/rates.py.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from labeling.models import Customer, Project


class RateImmutableError(RuntimeError):
    """Raised on an attempt to change a rate, or a version already in force: add a new version."""


class WorkKind(models.TextChoices):
    ANNOTATION = "annotation", "Annotation"
    REVIEW = "review", "Review"
    TRAINING = "training", "Training module"
    TEST = "test", "Qualification test"


# The kinds of work done in skill checks (labeling's check_answered), not in production.
CHECK_WORK_KINDS = frozenset({WorkKind.TRAINING, WorkKind.TEST})


class RateUnit(models.TextChoices):
    PER_TASK = "per_task", "Per final task"
    PER_HOUR = "per_hour", "Per active hour"


# Skill levels run 1..10 (workforce.SkillLevel); 0 on a rate means "any level".
MAX_SKILL_LEVEL = 10


class RateCard(models.Model):
    """The rates of one project, or (without a project) a customer's default for their projects
    that have no card of their own. Its content lives in its versions."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="rate_cards")
    project = models.OneToOneField(
        Project, on_delete=models.PROTECT, null=True, blank=True, related_name="rate_card"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["customer_id", F("project_id").asc(nulls_first=True), "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(project__isnull=True),
                name="payments_ratecard_one_default_per_customer",
            ),
        ]

    def __str__(self) -> str:
        if self.project_id is None:
            return f"Default rate card of customer {self.customer_id}"
        return f"Rate card of project {self.project_id}"

    @property
    def is_customer_default(self) -> bool:
        return self.project_id is None


class RateCardVersion(models.Model):
    """One version of a card: its currency, its rates, and the moment from which it applies.

    It applies from `effective_from` until the next version of the same card takes over. It is
    never retroactive: `effective_from` is not before `created_at` (a database check).
    """

    card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(help_text="1 for the card's first version, then 2, ...")
    effective_from = models.DateTimeField()
    currency = models.CharField(max_length=3)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A version not yet in force may be withdrawn (it then never applies); one in force may not.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdraw_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["card_id", "-effective_from", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["card", "number"], name="payments_rateversion_number_per_card"
            ),
            models.UniqueConstraint(
                fields=["card", "effective_from"],
                condition=Q(withdrawn_at__isnull=True),
                name="payments_rateversion_one_per_moment",
            ),
            models.CheckConstraint(
                condition=Q(effective_from__gte=F("created_at")),
                name="payments_rateversion_not_retroactive",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(withdrawn_at__lt=F("effective_from")),
                name="payments_rateversion_withdrawn_before_force",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payments_rateversion_currency"
            ),
        ]
        indexes = [
            models.Index(fields=["card", "-effective_from"], name="payments_rateversion_in_force"),
        ]

    def __str__(self) -> str:
        return f"Version {self.number} of {self.card}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # An earning may have recorded a version in force: it is never changed again.
        if not self._state.adding:
            stored = type(self).objects.filter(pk=self.pk).values_list("effective_from", flat=True)
            started = stored.first()
            if started is not None and started <= timezone.now():
                raise RateImmutableError(
                    f"Version {self.number} of {self.card} is in force; add a new version."
                )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RateImmutableError("Rate card versions are never deleted; withdraw or supersede.")

    def is_in_force_at(self, moment: Any) -> bool:
        """Whether this version had started to apply at `moment` (and was not withdrawn)."""
        return self.withdrawn_at is None and self.effective_from <= moment


class RateQuerySet(models.QuerySet["Rate"]):
    """Rates are written once with their version: never updated or deleted."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise RateImmutableError("Rates are never changed; add a new version of the card.")

    def delete(self) -> NoReturn:
        raise RateImmutableError("Rates are never deleted; add a new version of the card.")


class Rate(models.Model):
    """One price in a version: for a kind of work (and review level), for a tier or a minimum
    skill level (or anyone), per final task or per active hour, in micro-units of the version's
    currency. "Any" is stored as "" (tier) or 0 (review level, skill level)."""

    version = models.ForeignKey(RateCardVersion, on_delete=models.PROTECT, related_name="rates")
    work_kind = models.CharField(max_length=20, choices=WorkKind.choices)
    review_level = models.PositiveSmallIntegerField(
        default=0, help_text="Review work only: the level it pays (0: any level)."
    )
    tier = models.CharField(
        max_length=20,
        blank=True,
        help_text='"annotator", "reviewer-<level>" or "lead"; empty: any tier.',
    )
    min_skill_level = models.PositiveSmallIntegerField(
        default=0,
        help_text="People at least at this level of the project's skill (0: any level).",
    )
    unit = models.CharField(max_length=10, choices=RateUnit.choices)
    amount_micros = models.BigIntegerField(
        help_text="Micro-units (1e-6 of a major unit) of the version's currency."
    )

    objects = RateQuerySet.as_manager()

    class Meta:
        ordering = ["version_id", "work_kind", "review_level", "tier", "min_skill_level", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "work_kind", "review_level", "tier", "min_skill_level"],
                name="payments_rate_one_per_key",
            ),
            models.CheckConstraint(
                condition=Q(amount_micros__gt=0), name="payments_rate_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(work_kind=WorkKind.REVIEW) | Q(review_level=0),
                name="payments_rate_review_level_only_for_review",
            ),
            models.CheckConstraint(
                condition=Q(min_skill_level__lte=MAX_SKILL_LEVEL),
                name="payments_rate_skill_level_range",
            ),
            models.CheckConstraint(
                condition=Q(work_kind__in=WorkKind.values), name="payments_rate_work_kind_known"
            ),
            models.CheckConstraint(
                condition=Q(unit__in=RateUnit.values), name="payments_rate_unit_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_kind} {self.unit} {self.amount_micros}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise RateImmutableError("Rates are never changed; add a new version of the card.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RateImmutableError("Rates are never deleted; add a new version of the card.")
