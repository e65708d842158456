from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    COMPLETED = "completed", "Completed"


class Task(models.Model):
    """One item to label. `meta` belongs to the customer and is never shown to annotators."""

    # Indexed by labeling_task_proj_status, which starts with the project.
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    # Provenance only: deleting an import job keeps its tasks (the ORM sets this to NULL). The one
    # reference the database does not check: an import checks each task it stores, and this check
    # cost about 4 us of the 37 us of PostgreSQL CPU a task took (bench/queue.py's import missed
    # its 30,000 tasks/s budget with it; labeling 0029). Jobs are deleted only through the ORM.
    import_job = models.ForeignKey(
        "labeling.ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        db_constraint=False,
    )
    # NULL, not "", for "no id": the per-project unique constraint must ignore tasks without one.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    data = models.JSONField(help_text="What annotators see: text, or image URL and size.")
    meta = models.JSONField(
        default=dict, blank=True, help_text="Customer-only metadata; hidden from annotators."
    )
    pre_annotation = models.JSONField(
        null=True, blank=True, help_text="A model's prediction, shown as a start."
    )
    priority = models.IntegerField(default=0)
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    annotations_count = models.PositiveIntegerField(default=0)
    result = models.JSONField(
        null=True, blank=True, help_text="The final label once the pipeline says so."
    )
    agreement = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(
        null=True, blank=True, help_text="Consensus: posterior probability of the final label."
    )
    is_tie = models.BooleanField(default=False)
    is_gold = models.BooleanField(
        default=False, help_text="A benchmark task; its answer is kept apart in GoldAnswer."
    )
    review_level = models.PositiveSmallIntegerField(
        default=0, help_text="The highest review level the current work has passed."
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="labeling_task_external_id_unique_per_project",
            ),
            # What a slot's (task, project) reference points at (see WorkSlot).
            models.UniqueConstraint(fields=["id", "project"], name="labeling_task_id_project"),
        ]
        indexes = [
            models.Index(fields=["project", "status", "id"], name="labeling_task_proj_status"),
            # Does the project have gold? (asked by every claim; holds gold tasks only)
            models.Index(
                fields=["project"],
                name="labeling_task_gold",
                condition=models.Q(is_gold=True),
            ),
            # Final tasks only: imports add no entry, and exports' date ranges need no other.
            models.Index(
                fields=["project", "completed_at"],
                name="labeling_task_proj_completed",
                condition=models.Q(completed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} of project {self.project_id}"


class SlotKind(models.TextChoices):
    ANNOTATE = "annotate", "Annotate"
    REVIEW = "review", "Review"
    REWORK = "rework", "Rework"
    GOLD = "gold", "Gold (served by the gold mix, never by the queue)"


class SlotState(models.TextChoices):
    OPEN = "open", "Open"
    LEASED = "leased", "Leased"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class WorkSlot(models.Model):
    """One unit of work on a task (one annotation or one review), claimed through a lease.

    A task has as many annotate slots as its overlap; the claim query picks the best open slot
    with one indexed `FOR UPDATE SKIP LOCKED` query (see `labeling.queue`).
    """

    # A copy of the task's project (set by the services), so that the claim's index starts with it.
    # On PostgreSQL one constraint checks both references: (task, project) must be a task and its
    # own project (labeling 0028), which also proves the copy right, at one check a slot instead
    # of two (an import makes one slot a task or more). SQLite keeps no check of these two.
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="slots", db_constraint=False
    )
    kind = models.CharField(max_length=10, choices=SlotKind.choices, default=SlotKind.ANNOTATE)
    level = models.PositiveSmallIntegerField(default=0, help_text="Review level; 0 for annotation.")
    state = models.CharField(max_length=10, choices=SlotState.choices, default=SlotState.OPEN)
    priority = models.IntegerField(default=0)
    order_key = models.BigIntegerField(
        help_text="Fair order within a priority: creation order or random."
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Rework: the only person who may take this slot.",
        db_index=False,  # labeling_slot_rework_of (partial, non-null only) serves every lookup
    )

    class Meta:
        indexes = [
            models.Index(
                "project",
                "kind",
                "level",
                models.F("priority").desc(),
                "order_key",
                name="labeling_slot_claim_open",
                condition=models.Q(state="open"),
            ),
            models.Index(
                fields=["lease_expires_at"],
                name="labeling_slot_lease_expiry",
                condition=models.Q(state="leased"),
            ),
            models.Index(
                fields=["assignee", "state"],
                name="labeling_slot_rework_of",
                condition=models.Q(assignee__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} slot {self.pk} of task {self.task_id} ({self.state})"


class TaskParticipation(models.Model):
    """That a person holds, annotated or skipped a task: they are never offered it again."""

    # Indexed by the constraint (task, user) and the index (user, task) below.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="participations", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "user"], name="labeling_participation_once_per_task"
            ),
        ]
        # The work home counts, per person, the tasks they have not touched yet.
        indexes = [models.Index(fields=["user", "task"], name="labeling_participation_by_user")]

    def __str__(self) -> str:
        return f"User {self.user_id} on task {self.task_id}"


class LeaseState(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"


class Lease(models.Model):
    """A person's time-limited hold on one slot; extended by heartbeats, ended by submit/skip/release."""

    slot = models.ForeignKey(WorkSlot, on_delete=models.CASCADE, related_name="leases")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="leases")
    # A copy of the task's project (set by the queue), for the per-project lookups of leases.
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases"
    )
    state = models.CharField(max_length=10, choices=LeaseState.choices, default=LeaseState.ACTIVE)
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(default=timezone.now, help_text="Last claim or heartbeat.")
    active_seconds = models.PositiveIntegerField(default=0)
    ended_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["slot"],
                condition=models.Q(state="active"),
                name="labeling_lease_one_active_per_slot",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "project"],
                condition=models.Q(state="active"),
                name="labeling_lease_active_user",
            ),
        ]

    def __str__(self) -> str:
        return f"Lease {self.pk} on slot {self.slot_id} by user {self.user_id} ({self.state})"


class AnnotationStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    CORRECTED = "corrected", "Corrected by a reviewer"
    DISCOUNTED = "discounted", "Discounted (author suspended for quality)"


class Annotation(models.Model):
    """A person's label for a task, validated against the project's schema, with its active time."""

    # Every submit inserts one row: the task, project and author are indexed by the constraint
    # and the indexes in Meta that start with them, not by indexes of their own.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="annotations", db_index=False
    )
    # A copy of the task's project (set by the queue), for the per-project indexes below.
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="annotations",
        db_index=False,
    )
    lease = models.OneToOneField(
        Lease, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotation"
    )
    revision = models.PositiveSmallIntegerField(default=1)
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="corrections",
        help_text="A reviewer's correction: the annotation it corrects.",
        db_index=False,  # labeling_ann_corrects indexes the few rows that have one
    )
    result = models.JSONField()
    status = models.CharField(
        max_length=20, choices=AnnotationStatus.choices, default=AnnotationStatus.SUBMITTED
    )
    instructions_version = models.PositiveIntegerField(null=True, blank=True)
    active_seconds = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(default=timezone.now)
    agreement = models.FloatField(
        null=True,
        blank=True,
        help_text="How well it matches the final result (0..1), set when the task is final.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "author", "revision"],
                name="labeling_annotation_one_per_author_revision",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "submitted_at"], name="labeling_ann_project_time"),
            models.Index(fields=["author", "-submitted_at"], name="labeling_ann_by_author"),
            models.Index(
                fields=["corrects"],
                name="labeling_ann_corrects",
                condition=models.Q(corrects__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Annotation {self.pk} of task {self.task_id} by user {self.author_id}"


class Reaggregation(models.Model):
    """One change of a task's label or confidence made by re-aggregating it under fresher
    estimates (see `labeling.services.reaggregation`): what it was, what it became, and which
    estimates (the `ConsensusPriors.updated_at` of the refresh) made the change."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reaggregations")
    # A copy of the task's project, so a project's changes are listed by one index.
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    task_status = models.CharField(max_length=20, choices=TaskStatus.choices)
    before_result = models.JSONField(null=True, blank=True)
    after_result = models.JSONField(null=True, blank=True)
    before_confidence = models.FloatField(null=True, blank=True)
    after_confidence = models.FloatField(null=True, blank=True)
    estimates_at = models.DateTimeField(help_text="When the estimates used were computed.")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Once per task and estimate: repeating a re-aggregation changes nothing.
            models.UniqueConstraint(
                fields=["task", "estimates_at"], name="labeling_reaggregation_once_per_estimate"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-changed_at"], name="labeling_reagg_proj_changed"),
        ]

    def __str__(self) -> str:
        return f"Re-aggregation of task {self.task_id} at {self.estimates_at:%Y-%m-%d %H:%M}"
