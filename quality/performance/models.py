"""The hourly rollups of people's work (person x project x hour, and the project's own count of
final tasks), the stored Krippendorff's alpha of each project, and the watermark of the job that
keeps the rollups (see `quality.performance.rollups`). Imported by `quality.models`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from quality.performance.definitions import TIME_BUCKETS, Counters


def _empty_histogram() -> list[int]:
    return [0] * TIME_BUCKETS


class PersonHour(models.Model):
    """What one person did in one project in one hour (UTC): summable counters only, so a day,
    a team or a project is a sum of rows. Written only by the rollup job, from raw data."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="The start of the hour, UTC.")
    submissions = models.PositiveIntegerField(default=0)
    reworks = models.PositiveIntegerField(default=0)
    final_tasks = models.PositiveIntegerField(default=0)
    active_seconds = models.PositiveBigIntegerField(default=0)
    gold_scored = models.PositiveIntegerField(default=0)
    gold_score_micros = models.PositiveBigIntegerField(default=0)
    reviews_passed = models.PositiveIntegerField(default=0)
    reviews_failed = models.PositiveIntegerField(default=0)
    corrections = models.PositiveIntegerField(default=0)
    agreement_count = models.PositiveIntegerField(default=0)
    agreement_micros = models.PositiveBigIntegerField(default=0)
    skips = models.PositiveIntegerField(default=0)
    lease_expiries = models.PositiveIntegerField(default=0)
    time_histogram = models.JSONField(
        default=_empty_histogram,
        help_text="Submissions counted by active seconds into the fixed buckets of "
        "quality.performance.definitions.TIME_BUCKET_EDGES.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project", "hour"], name="quality_personhour_once"
            ),
        ]
        indexes = [
            models.Index(fields=["hour"], name="quality_personhour_hour"),
            models.Index(fields=["project", "hour"], name="quality_personhour_project"),
        ]

    def __str__(self) -> str:
        return f"User {self.user_id} in project {self.project_id} at {self.hour:%Y-%m-%d %H}h"

    def counters(self) -> Counters:
        return counters_of(self)


def counters_of(row: PersonHour) -> Counters:
    return Counters(
        submissions=row.submissions,
        reworks=row.reworks,
        final_tasks=row.final_tasks,
        active_seconds=row.active_seconds,
        gold_scored=row.gold_scored,
        gold_score_micros=row.gold_score_micros,
        reviews_passed=row.reviews_passed,
        reviews_failed=row.reviews_failed,
        corrections=row.corrections,
        agreement_count=row.agreement_count,
        agreement_micros=row.agreement_micros,
        skips=row.skips,
        lease_expiries=row.lease_expiries,
        time_histogram=tuple(row.time_histogram),
    )


class ProjectHour(models.Model):
    """Tasks of a project that became final in one hour (UTC): the one count that is not a sum
    over people (a consensus task is final once, whoever labeled it)."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="The start of the hour, UTC.")
    final_tasks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "hour"], name="quality_projecthour_once"),
        ]
        indexes = [models.Index(fields=["hour"], name="quality_projecthour_hour")]

    def __str__(self) -> str:
        return f"Project {self.project_id} at {self.hour:%Y-%m-%d %H}h"


class ProjectAgreement(models.Model):
    """A project's Krippendorff's alpha (or, for other task types, the mean agreement with the
    final results; `label` says which), as the periodic job last computed it."""

    project = models.OneToOneField(
        "labeling.Project", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    alpha = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=100)
    note = models.TextField(blank=True, help_text='What it covers, or "n/a: " and why.')
    annotations = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)
    is_capped = models.BooleanField(default=False)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Agreement of project {self.project_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class RollupMark(models.Model):
    """How far the rollup job has gone: every hour before `rolled_until` is rolled up, rows with
    ids up to `id_marks` have been seen, gold fixes up to `gold_fixed_until` applied."""

    name = models.CharField(max_length=50, primary_key=True)
    rolled_until = models.DateTimeField()
    id_marks = models.JSONField(default=dict)
    gold_fixed_until = models.DateTimeField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Rollups {self.name} until {self.rolled_until:%Y-%m-%d %H:%M}"
