"""Quality rules: a condition over a person's recent record, the actions it took, and appeals.

These models began in `labeling` and moved here without moving their data: each keeps its
table (`Meta.db_table`) and its constraint and index names, all still named `labeling_...`
(migrations labeling 0018 and quality 0001 change Django's state only).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RuleMetric(models.TextChoices):
    GOLD_ACCURACY = "gold_accuracy", "Gold accuracy"
    REVIEW_PASS_RATE = "review_pass_rate", "Review pass rate"
    AGREEMENT = "agreement", "Agreement with the aggregate"
    FAST_ANSWER_RATE = "fast_answer_rate", "Fast-answer rate"
    SKIP_STREAK = "skip_streak", "Skip streak"
    SUBMISSIONS_24H = "submissions_24h", "Submissions in 24 hours"
    # The consensus model's scores of a person (project rules only; see docs/quality.md).
    SPAMMER_SCORE = "spammer_score", "Spammer score (from the person's confusion matrix)"
    CONSENSUS_AGREEMENT = "consensus_agreement", "Agreement with the confident consensus"
    GOLD_ACCURACY_UPPER = "gold_accuracy_upper", "Gold accuracy above chance, upper bound"


class RuleWindow(models.TextChoices):
    ITEMS = "items", "Last N items"
    DAYS = "days", "Last D days"


class RuleComparator(models.TextChoices):
    LT = "lt", "<"
    LTE = "lte", "≤"
    GT = "gt", ">"
    GTE = "gte", "≥"


class RuleActionKind(models.TextChoices):
    NOTIFY = "notify", "Notify"
    RAISE_GOLD_RATE = "raise_gold_rate", "Raise the gold rate"
    REQUIRE_RETRAINING = "require_retraining", "Require retraining"
    REMOVE_SKILL_LEVEL = "remove_skill_level", "Remove the skill level"
    SUSPEND_PROJECT = "suspend_project", "Suspend from the project"
    SUSPEND_EVERYWHERE = "suspend_everywhere", "Suspend everywhere"


class QualityRule(models.Model):
    """A condition over a person's recent record and the action taken when it holds.

    A project rule sees only that project's items; a global rule (no project) sees all projects.
    Rules are deactivated, never deleted: their actions keep pointing at them as evidence.
    """

    project = models.ForeignKey(
        "labeling.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quality_rules",
        help_text="Empty: a global rule over every project.",
    )
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    metric = models.CharField(max_length=30, choices=RuleMetric.choices)
    window_kind = models.CharField(max_length=10, choices=RuleWindow.choices)
    window_size = models.PositiveIntegerField(help_text="N items or D days.")
    min_sample = models.PositiveIntegerField(
        help_text="Fewer items than this in the window: the rule does not judge."
    )
    comparator = models.CharField(max_length=3, choices=RuleComparator.choices)
    threshold = models.FloatField()
    fast_answer_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fast-answer rate: answers quicker than this count."
    )
    action = models.CharField(max_length=30, choices=RuleActionKind.choices)
    gold_rate = models.FloatField(
        null=True, blank=True, help_text="Raise the gold rate: the person's gold share (0..1]."
    )
    duration_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: until a manager lifts it."
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "labeling_qualityrule"  # the table it had in labeling (see the module docstring)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_size__gte=1), name="labeling_rule_window_min_1"
            ),
            models.CheckConstraint(
                condition=models.Q(min_sample__gte=1), name="labeling_rule_min_sample_min_1"
            ),
            models.CheckConstraint(
                condition=~models.Q(metric="fast_answer_rate")
                | models.Q(fast_answer_seconds__gte=1),
                name="labeling_rule_fast_answer_has_seconds",
            ),
            models.CheckConstraint(
                condition=~models.Q(action="raise_gold_rate")
                | models.Q(gold_rate__gt=0, gold_rate__lte=1),
                name="labeling_rule_gold_rate_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(action="remove_skill_level") | models.Q(project__isnull=False),
                name="labeling_rule_skill_removal_needs_project",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_hours__isnull=True) | models.Q(duration_hours__gte=1),
                name="labeling_rule_duration_min_1h",
            ),
        ]
        indexes = [models.Index(fields=["is_active", "project"], name="labeling_rule_active")]

    def __str__(self) -> str:
        return self.name


class RuleActionState(models.TextChoices):
    ACTIVE = "active", "Active"
    UPHELD = "upheld", "Upheld on appeal"
    EXPIRED = "expired", "Expired"
    REVERSED = "reversed", "Reversed"


# The states in which an action's effect holds (an upheld action stays in force until it ends).
IN_EFFECT_STATES = (RuleActionState.ACTIVE, RuleActionState.UPHELD)


class RuleAction(models.Model):
    """One action a rule took on one person, with its evidence and what it took (to restore it).

    `taken` lists each effect as {"effect", "project", "skill", "before", "set"}: the value before
    any rule held it and the value this action set; a reversal or expiry puts `before` back.
    """

    rule = models.ForeignKey(QualityRule, on_delete=models.PROTECT, related_name="actions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        "labeling.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The rule's project; empty for a global rule.",
    )
    kind = models.CharField(max_length=30, choices=RuleActionKind.choices)
    state = models.CharField(
        max_length=10, choices=RuleActionState.choices, default=RuleActionState.ACTIVE
    )
    metric_value = models.FloatField()
    sample_size = models.PositiveIntegerField()
    item_ids = models.JSONField(default=list, help_text="The items the value was computed from.")
    evidence = models.JSONField(
        default=dict, help_text="The rule as it was when it fired, and the work discounted."
    )
    taken = models.JSONField(default=list, help_text="What was taken, to restore it.")
    taken_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: until a manager lifts it."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_note = models.TextField(blank=True)

    class Meta:
        db_table = "labeling_ruleaction"  # the table it had in labeling (see the module docstring)
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "user"],
                condition=models.Q(state__in=["active", "upheld"]),
                name="labeling_ruleaction_one_in_effect",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-taken_at"], name="labeling_ruleaction_by_user"),
            models.Index(fields=["state", "-taken_at"], name="labeling_ruleaction_by_state"),
            models.Index(
                fields=["expires_at"],
                name="labeling_ruleaction_expiry",
                condition=models.Q(state__in=["active", "upheld"], expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of user {self.user_id} by rule {self.rule_id}"

    @property
    def is_in_effect(self) -> bool:
        return self.state in IN_EFFECT_STATES


class AppealStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    UPHELD = "upheld", "Upheld: the action was reversed"
    REJECTED = "rejected", "Rejected: the action stands"


class Appeal(models.Model):
    """A person's appeal against one action taken on them; a manager decides it once."""

    action = models.OneToOneField(RuleAction, on_delete=models.CASCADE, related_name="appeal")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField()
    status = models.CharField(
        max_length=10, choices=AppealStatus.choices, default=AppealStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        db_table = "labeling_appeal"  # the table it had in labeling (see the module docstring)
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="labeling_appeal_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="labeling_appeal_by_status")]

    def __str__(self) -> str:
        return f"Appeal of user {self.author_id} against action {self.action_id} ({self.status})"


# The hourly rollups and the stored agreement of projects (their own module).
from quality.performance.models import (  # noqa: E402
    PersonHour,
    ProjectAgreement,
    ProjectHour,
    RollupMark,
)

__all__ = [
    "IN_EFFECT_STATES",
    "Appeal",
    "AppealStatus",
    "PersonHour",
    "ProjectAgreement",
    "ProjectHour",
    "QualityRule",
    "RollupMark",
    "RuleAction",
    "RuleActionKind",
    "RuleActionState",
    "RuleComparator",
    "RuleMetric",
    "RuleWindow",
]
