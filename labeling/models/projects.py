from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from workforce.models import SkillComparator


class TaskType(models.TextChoices):
    SINGLE_LABEL = "single_label", "Classification (one label)"
    MULTI_LABEL = "multi_label", "Classification (several labels)"
    NER = "ner", "Named entities (text spans)"
    BBOX = "bbox", "Bounding boxes (images)"


class Pipeline(models.TextChoices):
    STANDARD = "standard", "Standard (one annotation, then review)"
    CONSENSUS = "consensus", "Consensus (several annotations, aggregated)"
    COLLECTION = "collection", "Collection (each submission is a result)"


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class ProjectPurpose(models.TextChoices):
    WORK = "work", "Work (served by the queue)"
    TRAINING = "training", "Training module (items with answers, served by its attempts)"
    TEST = "test", "Qualification test (items with answer keys, served by its attempts)"


class QueueOrder(models.TextChoices):
    OLDEST = "oldest", "Oldest first"
    RANDOM = "random", "Random"
    DEPTH_FIRST = "depth_first", "Depth-first: finish started tasks first"
    UNCERTAIN_FIRST = (
        "uncertain_first",
        "Uncertain first: depth-first, the least certain started task first (dynamic overlap)",
    )


class TieRule(models.TextChoices):
    """What a consensus project does with a task whose vote ends in a tie."""

    ESCALATE = "escalate", "Ask one more annotator (up to the maximum overlap), then review"
    REVIEW = "review", "Send to review"
    LEAVE_UNLABELLED = "leave_unlabelled", "Leave unlabelled and report the tie"


class AggregationMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    WEIGHTED = "weighted", "Accuracy-weighted vote"
    DAWID_SKENE = "dawid_skene", "Dawid-Skene (per-person confusion matrices)"


def default_review_levels() -> list[dict[str, object]]:
    return []


def default_gold_rates() -> dict[str, float]:
    return {"probation": 0.2, "regular": 0.05, "trusted": 0.05}


# A project's counts of annotations and final tasks are spread over this many rows
# (`ProjectTally`), chosen by who did the work (`tally_shard`): every submit adds one, and a single
# counter row would be locked by every submit of the project until it commits (submits queued one
# behind the other's flush to disk).
TALLY_SHARDS = 32


def tally_shard(user_id: int) -> int:
    """The tally row a person's work is counted in."""
    return user_id % TALLY_SHARDS


def projects_with_counts(projects: models.QuerySet[Project]) -> models.QuerySet[Project]:
    """`projects`, each with its exact counts read in the same query (`Project.tasks_completed`,
    `annotations_total`), for pages and lists that show them."""
    tallies = ProjectTally.objects.filter(project_id=models.OuterRef("pk")).order_by()

    def summed(column: str) -> Coalesce:
        total = tallies.values("project_id").annotate(n=models.Sum(column)).values("n")
        return Coalesce(models.Subquery(total), 0)

    return projects.annotate(
        counted_tasks_completed=models.F("tasks_completed_folded") + summed("completed"),
        counted_annotations_total=models.F("annotations_folded") + summed("annotations"),
    )


class Project(models.Model):
    """A labeling job of one customer: what to label, how, by whom, and how often."""

    customer = models.ForeignKey(
        "labeling.Customer", on_delete=models.PROTECT, related_name="projects"
    )
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    task_type = models.CharField(max_length=20, choices=TaskType.choices)
    preset = models.CharField(
        max_length=30, blank=True, help_text="The preset it was made from, e.g. sentiment."
    )
    labels = models.JSONField(default=list, help_text='[{"name", "color", "hotkey"}]')
    max_labels = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Multi-label: at most this many."
    )
    allow_overlapping_spans = models.BooleanField(default=False)
    pipeline = models.CharField(max_length=20, choices=Pipeline.choices, default=Pipeline.STANDARD)
    overlap = models.PositiveSmallIntegerField(
        default=1, help_text="Independent annotations per task (minimum)."
    )
    max_overlap = models.PositiveSmallIntegerField(
        default=1, help_text="Consensus: at most this many."
    )
    lease_seconds = models.PositiveIntegerField(default=600)
    idle_cap_seconds = models.PositiveIntegerField(
        default=120, help_text="Longest gap between signs of activity that counts as active time."
    )
    max_leases_per_person = models.PositiveSmallIntegerField(default=1)
    priority = models.IntegerField(default=0)
    # How new slots are keyed (labeling.queue_order); new projects get it from the pipeline.
    queue_order = models.CharField(
        max_length=20, choices=QueueOrder.choices, default=QueueOrder.RANDOM
    )
    required_skill = models.ForeignKey(
        "workforce.Skill", null=True, blank=True, on_delete=models.PROTECT, related_name="projects"
    )
    required_level = models.PositiveSmallIntegerField(default=1)
    # Empty: open to every team; else only members of these teams get its work.
    teams = models.ManyToManyField("workforce.Team", blank=True, related_name="projects")
    status = models.CharField(
        max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT
    )
    # A training module or a test keeps its items here; they are served by the check's attempts
    # (labeling.services.checks), never by the queue (labeling.policy.project_takes_work).
    purpose = models.CharField(
        max_length=10, choices=ProjectPurpose.choices, default=ProjectPurpose.WORK
    )
    skill_check = models.OneToOneField(
        "workforce.SkillCheck",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="project",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Progress: tasks imported (exact, by single-statement F() updates); tasks final and
    # annotations counted before their counts moved to `ProjectTally` rows. The exact counts are
    # `tasks_completed` and `annotations_total` below.
    tasks_total = models.PositiveIntegerField(default=0)
    tasks_completed_folded = models.PositiveIntegerField(default=0)
    annotations_folded = models.PositiveIntegerField(default=0)
    instructions_version = models.PositiveIntegerField(
        default=0, help_text="The newest published instructions version (0: none yet)."
    )
    # Review hierarchy: level k samples the work that passed level k-1 at a rate by the author's
    # standing, e.g. [{"level": 1, "rates": {"probation": 1.0, "regular": 0.3, "trusted": 0.1}}].
    review_levels = models.JSONField(default=default_review_levels, blank=True)
    max_reworks = models.PositiveSmallIntegerField(
        default=2, help_text="Rejections an author may rework before the task goes to someone else."
    )
    # Gold: the first `gold_warmup` tasks of each person are gold, then a share by standing.
    gold_warmup = models.PositiveSmallIntegerField(default=5)
    gold_rates = models.JSONField(default=default_gold_rates, blank=True)
    gold_feedback = models.BooleanField(
        default=False, help_text="Training mode: show the expected answer right after a gold task."
    )
    aggregation_method = models.CharField(
        max_length=20, choices=AggregationMethod.choices, default=AggregationMethod.MAJORITY
    )
    confidence_threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Consensus: stop adding annotators once the top posterior reaches this.",
    )
    tie_rule = models.CharField(
        max_length=20,
        choices=TieRule.choices,
        default=TieRule.ESCALATE,
        help_text="Consensus: what a tied vote does; only leave_unlabelled ends a task without a label.",
    )
    reaggregate_final = models.BooleanField(
        default=False,
        help_text="Consensus: when the estimates refresh, re-aggregate final tasks too, not only "
        "recent and in-review ones.",
    )
    # Set by the customer or a manager; the dashboards compare it with the ETA at the current pace.
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="When every task should be final (optional)."
    )

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(overlap__gte=1), name="labeling_project_overlap_min_1"
            ),
            models.CheckConstraint(
                condition=models.Q(max_overlap__gte=models.F("overlap")),
                name="labeling_project_max_overlap_at_least_overlap",
            ),
            models.CheckConstraint(
                condition=models.Q(lease_seconds__gte=30), name="labeling_project_lease_min_30s"
            ),
            models.CheckConstraint(
                condition=models.Q(confidence_threshold__isnull=True)
                | models.Q(confidence_threshold__gt=0.5, confidence_threshold__lte=1),
                name="labeling_project_confidence_threshold_range",
            ),
            models.CheckConstraint(
                condition=models.Q(tie_rule__in=TieRule.values),
                name="labeling_project_tie_rule_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def _counted(self, name: str) -> int:
        """An exact count: as read with `projects_with_counts`, else both read now in one query
        and kept on the instance until `refresh_from_db` (as a field's value is kept)."""
        if name not in self.__dict__:
            tallied = ProjectTally.objects.filter(project_id=self.pk).aggregate(
                completed=models.Sum("completed"), annotations=models.Sum("annotations")
            )
            self.__dict__["counted_tasks_completed"] = self.tasks_completed_folded + int(
                tallied["completed"] or 0
            )
            self.__dict__["counted_annotations_total"] = self.annotations_folded + int(
                tallied["annotations"] or 0
            )
        return int(self.__dict__[name])

    @property
    def tasks_completed(self) -> int:
        """Tasks of the project that are final."""
        return self._counted("counted_tasks_completed")

    @property
    def annotations_total(self) -> int:
        """Annotations submitted in the project."""
        return self._counted("counted_annotations_total")

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        # The counts are read again with the fields, not kept from before.
        self.__dict__.pop("counted_tasks_completed", None)
        self.__dict__.pop("counted_annotations_total", None)
        super().refresh_from_db(*args, **kwargs)


class ProjectTally(models.Model):
    """A share of a project's counts: the annotations and final tasks of the people whose work
    is counted in this row (`tally_shard`). A project's count is its folded count plus the sum
    of its rows (at most TALLY_SHARDS)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tallies")
    shard = models.PositiveSmallIntegerField()
    annotations = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "shard"], name="labeling_projecttally_one_per_shard"
            ),
        ]

    def __str__(self) -> str:
        return f"project {self.project_id}, shard {self.shard}"


class ProjectRequirement(models.Model):
    """A requirement beyond the project's skill: a level of another skill, or not holding one.

    The claim checks them (`workforce.selectors.teams.skill_requirement_met`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="requirements")
    skill = models.ForeignKey("workforce.Skill", on_delete=models.PROTECT, related_name="+")
    comparator = models.CharField(max_length=10, choices=SkillComparator.choices)
    level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="At least this level (1..10); empty for 'lacks'."
    )

    class Meta:
        ordering = ["project", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "skill"], name="labeling_requirement_one_per_skill"
            ),
            models.CheckConstraint(
                condition=models.Q(comparator=SkillComparator.AT_LEAST, level__gte=1, level__lte=10)
                | models.Q(comparator=SkillComparator.LACKS, level__isnull=True),
                name="labeling_requirement_level_by_comparator",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project}: {self.comparator} {self.skill_id} {self.level or ''}".strip()


class InstructionVersion(models.Model):
    """One version of a project's instructions; annotations remember the version they were made under."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="instruction_versions"
    )
    version = models.PositiveIntegerField()
    body_markdown = models.TextField()
    body_html = models.TextField(help_text="Sanitised HTML rendered from the Markdown.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "version"], name="labeling_instructions_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} instructions v{self.version}"
