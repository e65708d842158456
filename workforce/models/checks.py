"""Skill checks: training modules and qualification tests, and each person's attempts at them.

A check's items are tasks with hidden answers in a labeling project of the matching purpose
(labeling.Project.skill_check points here); workforce keeps the rules (pass mark, draw, time
limit, attempts, cooldown, score-to-level map) and the record of every attempt. The item ids an
attempt drew are opaque to workforce: labeling draws, serves and scores them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class CheckKind(models.TextChoices):
    TRAINING = "training", "Training module"
    TEST = "test", "Qualification test"


class SkillCheck(models.Model):
    """A training module or a qualification test for one skill."""

    skill = models.ForeignKey("workforce.Skill", on_delete=models.PROTECT, related_name="checks")
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    pass_mark = models.FloatField(
        default=0.8, help_text="Share of the score (0..1) needed to pass a training module."
    )
    items_per_attempt = models.PositiveIntegerField(
        null=True, blank=True, help_text="Items drawn per attempt; empty: every item."
    )
    stratify_by_label = models.BooleanField(
        default=False, help_text="Draw items in proportion to their expected labels."
    )
    time_limit_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Enforced on the server; empty: no limit."
    )
    max_attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty: as many as the person likes."
    )
    cooldown_seconds = models.PositiveIntegerField(
        default=0, help_text="Time between the end of one attempt and the start of the next."
    )
    level_map = models.JSONField(
        default=list,
        blank=True,
        help_text="Tests: [[min_score, level], ...], e.g. [[0.8, 1], [0.92, 2]].",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["skill__name", "kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pass_mark__gte=0, pass_mark__lte=1),
                name="workforce_skillcheck_pass_mark_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class AttemptState(models.TextChoices):
    OPEN = "open", "In progress"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ABANDONED = "abandoned", "Abandoned"
    TIMED_OUT = "timed_out", "Timed out"


class CheckAttempt(models.Model):
    """One person's attempt at a check: the items drawn, the deadline, and the outcome."""

    check_ref = models.ForeignKey(SkillCheck, on_delete=models.PROTECT, related_name="attempts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="check_attempts"
    )
    number = models.PositiveSmallIntegerField(help_text="1 for the person's first attempt.")
    state = models.CharField(max_length=10, choices=AttemptState.choices, default=AttemptState.OPEN)
    item_ids = models.JSONField(default=list, help_text="The items drawn, in serving order.")
    started_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True, help_text="0..1 over the drawn items.")
    level_granted = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_ref", "user", "number"], name="workforce_attempt_number_once"
            ),
            models.UniqueConstraint(
                fields=["check_ref", "user"],
                condition=models.Q(state="open"),
                name="workforce_attempt_one_open",
            ),
        ]
        indexes = [models.Index(fields=["user", "-started_at"], name="workforce_attempt_by_user")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of {self.user_id} at {self.check_ref_id}"
