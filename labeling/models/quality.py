"""Quality: gold answers and their scores, reviews, and what is known about each person per project."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class GoldAnswer(models.Model):
    """The hidden answer of a gold task. Never serialized to non-staff, in HTML or JSON."""

    task = models.OneToOneField(
        "labeling.Task", on_delete=models.CASCADE, related_name="gold_answer"
    )
    result = models.JSONField()
    explanation = models.TextField(blank=True, help_text="Shown with the answer in training mode.")
    is_retired = models.BooleanField(default=False, help_text="No longer served to anyone.")
    version = models.PositiveIntegerField(default=1, help_text="Raised each time it is fixed.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Gold answer of task {self.task_id} v{self.version}"


class GoldScore(models.Model):
    """How well one annotation of a gold task matched its answer (scored at once, rescored on a fix)."""

    annotation = models.OneToOneField(
        "labeling.Annotation", on_delete=models.CASCADE, related_name="gold_score"
    )
    task = models.ForeignKey("labeling.Task", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    value = models.FloatField(help_text="0..1: exact match, set F1, span F1 or box F1.")
    detail = models.JSONField(default=dict, blank=True)
    answer_version = models.PositiveIntegerField()
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-scored_at"], name="labeling_goldscore_by_user"),
            models.Index(fields=["project", "user"], name="labeling_goldscore_proj_user"),
        ]

    def __str__(self) -> str:
        return f"Gold score {self.value:.2f} of annotation {self.annotation_id}"


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    CORRECT = "correct", "Correct"
    REJECT = "reject", "Reject"


class RejectReason(models.TextChoices):
    WRONG_LABEL = "wrong_label", "Wrong label"
    MISSING = "missing", "Something is missing"
    EXTRA = "extra", "Something is marked that should not be"
    BOUNDARIES = "boundaries", "Span or box boundaries are off"
    GUIDELINES = "guidelines", "Does not follow the instructions"
    LOW_EFFORT = "low_effort", "Careless or low effort"
    OTHER = "other", "Other"


class Review(models.Model):
    """A reviewer's verdict at one level on the current work of a task."""

    task = models.ForeignKey("labeling.Task", on_delete=models.CASCADE, related_name="reviews")
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    annotation = models.ForeignKey(
        "labeling.Annotation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reviews",
        help_text="The work reviewed; empty when a consensus aggregate was reviewed.",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose work was reviewed (empty for a consensus aggregate).",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_given"
    )
    lease = models.OneToOneField(
        "labeling.Lease", null=True, blank=True, on_delete=models.SET_NULL, related_name="review"
    )
    level = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    reason = models.CharField(max_length=20, choices=RejectReason.choices, blank=True)
    comment = models.TextField(blank=True)
    correction = models.OneToOneField(
        "labeling.Annotation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="correcting_review",
    )
    correction_score = models.FloatField(
        null=True, blank=True, help_text="The reviewed work scored against the correction (0..1)."
    )
    upheld = models.BooleanField(
        null=True, blank=True, help_text="Set by the next level's verdict: was this review right?"
    )
    active_seconds = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(verdict="reject") | ~models.Q(reason=""),
                name="labeling_review_reject_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["author", "-created_at"], name="labeling_review_by_author"),
            models.Index(fields=["reviewer", "-created_at"], name="labeling_review_by_reviewer"),
            models.Index(fields=["task", "level"], name="labeling_review_task_level"),
        ]

    def __str__(self) -> str:
        return f"L{self.level} {self.verdict} of task {self.task_id} by user {self.reviewer_id}"


class WorkerProjectState(models.Model):
    """What the queue needs to know about one person in one project: gold mix and restrictions.

    Created at a person's first claim; quality rule actions change the restriction fields.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    tasks_claimed = models.PositiveIntegerField(default=0)
    gold_claimed = models.PositiveIntegerField(default=0)
    gold_rate_override = models.FloatField(
        null=True, blank=True, help_text="Raised gold share for this person (a quality rule)."
    )
    is_suspended = models.BooleanField(default=False)
    suspended_until = models.DateTimeField(null=True, blank=True)
    needs_retraining = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project"], name="labeling_workerstate_one_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"User {self.user_id} in project {self.project_id}"


class WorkerConfusion(models.Model):
    """A person's estimated confusion matrix in a consensus project (rows: true class; columns: given)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    classes = models.JSONField(help_text="Label names in matrix order.")
    matrix = models.JSONField()
    accuracy = models.FloatField(help_text="Prior-weighted diagonal: the chance a label is right.")
    labels_seen = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project"], name="labeling_confusion_one_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"Confusion of user {self.user_id} in project {self.project_id}"


class ConsensusPriors(models.Model):
    """The crowd's side of a consensus project's estimates, from the same Dawid-Skene run as the
    WorkerConfusion rows: the class priors, and the crowd's average confusion matrix that stands
    for anyone without an estimate of their own."""

    project = models.OneToOneField(
        "labeling.Project", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    classes = models.JSONField(help_text="Label names in the order of the priors and the matrix.")
    class_priors = models.JSONField(help_text="How common each class is (sums to 1).")
    crowd_matrix = models.JSONField(help_text="Rows: true class; columns: label given.")
    labels_seen = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "consensus priors"

    def __str__(self) -> str:
        return f"Consensus priors of project {self.project_id}"
