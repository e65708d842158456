"""Selectors: what each person did in each project, hour by hour, counted from labeling's rows.

Read by `quality`'s hourly rollups (and their rebuild): the rules of what counts are labeling's
(which annotation is a person's own work, what a rework is, which tasks are final), so they are
written here, next to the rows, and quality only names the hours it wants. Every function reads
a half-open range of time [start, end) with a few grouped queries, whatever the number of rows;
nothing here writes.

Each count is attributed to the hour of the moment that produced it: a submission to its
`submitted_at`, a verdict to the review's `created_at`, a gold score to its `scored_at`, a lease's
active time, skip or expiry to its `ended_at`, and a final task (and the agreement of the work in
it) to the task's `completed_at`.

The one thing here that is not a read, `work_tables_analyze_stale`, refreshes the planner's
statistics of the tables these functions read before a job reads a long span of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import Case, Count, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncHour

from core.table_statistics import tables_analyze_stale
from labeling.models import (
    Annotation,
    AnnotationStatus,
    GoldAnswer,
    GoldScore,
    Lease,
    LeaseState,
    Review,
    SlotKind,
    Task,
    TaskStatus,
    Verdict,
)

# (person, project, hour) -> {count name: value}
HourKey = tuple[int, int, datetime]
HourCounts = dict[HourKey, dict[str, int | float]]

# A person's own work: not a reviewer's correction of someone else's.
OWN_WORK = Q(corrects__isnull=True)
# Work that counts towards a task's outcome: not rejected, corrected away or discounted.
COUNTED_WORK = Q(status__in=[AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED])
# Redone work: a later revision of the author's own work on a task comes only from a rework.
REWORK = Q(revision__gt=1)


def _hour(field: str) -> TruncHour:
    return TruncHour(field, tzinfo=UTC)


def _in(field: str, start: datetime, end: datetime, project_id: int | None) -> Q:
    condition = Q(**{f"{field}__gte": start, f"{field}__lt": end})
    if project_id is not None:
        condition &= Q(project_id=project_id)
    return condition


def _add(counts: HourCounts, key: HourKey, values: dict[str, int | float]) -> None:
    row = counts.setdefault((key[0], key[1], key[2].astimezone(UTC)), {})
    for name, value in values.items():
        row[name] = row.get(name, 0) + (value or 0)


def _time_bucket(edges: Sequence[int]) -> Case:
    """The index of the histogram bucket of an annotation's active seconds (`edges`: lower
    edges, ascending, the first 0)."""
    whens = [When(active_seconds__lt=edges[i + 1], then=Value(i)) for i in range(len(edges) - 1)]
    return Case(*whens, default=Value(len(edges) - 1), output_field=IntegerField())


def person_hour_counts(
    *, start: datetime, end: datetime, time_edges: Sequence[int], project_id: int | None = None
) -> HourCounts:
    """Count each person's work per project and hour in [start, end) (six grouped queries).

    Names: submissions, reworks, bucket_<i> (submissions by active seconds, `time_edges`),
    active_seconds, skips, lease_expiries (annotation leases, not reviews), gold_scored,
    gold_score_sum, reviews_passed, reviews_failed, corrections, final_tasks, agreement_count,
    agreement_sum.
    """
    counts: HourCounts = {}
    own = Annotation.objects.filter(OWN_WORK, _in("submitted_at", start, end, project_id))
    for row in (
        own.annotate(hour=_hour("submitted_at"), bucket=_time_bucket(time_edges))
        .values("author_id", "project_id", "hour", "bucket")
        .annotate(n=Count("id"), reworks=Count("id", filter=REWORK))
        .order_by()
    ):
        _add(
            counts,
            (row["author_id"], row["project_id"], row["hour"]),
            {
                "submissions": row["n"],
                "reworks": row["reworks"],
                f"bucket_{row['bucket']}": row["n"],
            },
        )
    leases = Lease.objects.filter(_in("ended_at", start, end, project_id)).exclude(
        slot__kind=SlotKind.REVIEW
    )
    for lease in (
        leases.annotate(hour=_hour("ended_at"))
        .values("user_id", "project_id", "hour")
        .annotate(
            active=Sum("active_seconds"),
            skips=Count("id", filter=Q(state=LeaseState.SKIPPED)),
            expiries=Count("id", filter=Q(state=LeaseState.EXPIRED)),
        )
        .order_by()
    ):
        _add(
            counts,
            (lease["user_id"], lease["project_id"], lease["hour"]),
            {
                "active_seconds": lease["active"],
                "skips": lease["skips"],
                "lease_expiries": lease["expiries"],
            },
        )
    for gold in (
        GoldScore.objects.filter(_in("scored_at", start, end, project_id))
        .annotate(hour=_hour("scored_at"))
        .values("user_id", "project_id", "hour")
        .annotate(n=Count("id"), total=Sum("value"))
        .order_by()
    ):
        _add(
            counts,
            (gold["user_id"], gold["project_id"], gold["hour"]),
            {"gold_scored": gold["n"], "gold_score_sum": float(gold["total"] or 0.0)},
        )
    for verdicts in (
        Review.objects.filter(_in("created_at", start, end, project_id), author__isnull=False)
        .annotate(hour=_hour("created_at"))
        .values("author_id", "project_id", "hour")
        .annotate(
            passed=Count("id", filter=Q(verdict=Verdict.APPROVE)),
            failed=Count("id", filter=~Q(verdict=Verdict.APPROVE)),
            corrections=Count("id", filter=Q(verdict=Verdict.CORRECT)),
        )
        .order_by()
    ):
        _add(
            counts,
            (verdicts["author_id"], verdicts["project_id"], verdicts["hour"]),
            {
                "reviews_passed": verdicts["passed"],
                "reviews_failed": verdicts["failed"],
                "corrections": verdicts["corrections"],
            },
        )
    final = Annotation.objects.filter(
        OWN_WORK,
        COUNTED_WORK,
        task__status=TaskStatus.COMPLETED,
        task__completed_at__gte=start,
        task__completed_at__lt=end,
    )
    if project_id is not None:
        final = final.filter(project_id=project_id)
    for done in (
        final.annotate(hour=_hour("task__completed_at"))
        .values("author_id", "project_id", "hour")
        .annotate(
            tasks=Count("task_id", distinct=True),
            agreed=Count("id", filter=Q(agreement__isnull=False)),
            agreement=Sum("agreement"),
        )
        .order_by()
    ):
        _add(
            counts,
            (done["author_id"], done["project_id"], done["hour"]),
            {
                "final_tasks": done["tasks"],
                "agreement_count": done["agreed"],
                "agreement_sum": float(done["agreement"] or 0.0),
            },
        )
    return counts


def project_hour_final_tasks(
    *, start: datetime, end: datetime, project_id: int | None = None
) -> dict[tuple[int, datetime], int]:
    """Tasks (not gold) that became final per project and hour in [start, end) (one query).

    Not a sum over people: a consensus task is final once, however many labeled it.
    """
    rows = (
        Task.objects.filter(
            _in("completed_at", start, end, project_id),
            status=TaskStatus.COMPLETED,
            is_gold=False,
        )
        .annotate(hour=_hour("completed_at"))
        .values("project_id", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(row["project_id"], row["hour"].astimezone(UTC)): row["n"] for row in rows}


# --- Where rows appeared late: what the rollups must look at again ---------------------------


def _late_sources() -> tuple[tuple[str, QuerySet[Any], str], ...]:
    """Each table the hourly counts read, with the time its rows are counted at."""
    return (
        ("annotation", Annotation.objects.all(), "submitted_at"),
        ("review", Review.objects.all(), "created_at"),
        ("gold_score", GoldScore.objects.all(), "scored_at"),
        ("lease", Lease.objects.filter(ended_at__isnull=False), "ended_at"),
        ("task", Task.objects.filter(completed_at__isnull=False), "completed_at"),
    )


def work_id_marks() -> dict[str, int]:
    """The highest id of each table the hourly counts read (0 when empty); five queries."""
    marks = {}
    for name, rows, _ in _late_sources():
        marks[name] = int(rows.model.objects.aggregate(top=Max("pk"))["top"] or 0)
    return marks


def hours_of_rows_after(
    marks: dict[str, int], *, before: datetime, project_id: int | None = None
) -> set[datetime]:
    """The hours (before `before`) of rows inserted after `marks` whose time lies in the past:
    work stored with an earlier time than its insert (imports of history, backfills). Five
    queries on the primary keys."""
    hours: set[datetime] = set()
    for name, rows, field in _late_sources():
        late = rows.filter(pk__gt=marks.get(name, 0), **{f"{field}__lt": before})
        if project_id is not None:
            late = late.filter(project_id=project_id)
        hours.update(
            hour.astimezone(UTC)
            for hour in late.annotate(hour=_hour(field))
            .values_list("hour", flat=True)
            .distinct()
            .order_by()
        )
    return hours


def gold_fixed_hours(*, since: datetime, until: datetime) -> set[datetime]:
    """The hours of the gold scores of gold answers fixed in (since, until]: a fix rescores them
    in place, so the hours they were counted in change (one query)."""
    fixed = GoldAnswer.objects.filter(
        updated_at__gt=since, updated_at__lte=until, version__gt=1
    ).values("task_id")
    return {
        hour.astimezone(UTC)
        for hour in GoldScore.objects.filter(task_id__in=fixed)
        .annotate(hour=_hour("scored_at"))
        .values_list("hour", flat=True)
        .distinct()
        .order_by()
    }


def earliest_work_at() -> datetime | None:
    """The earliest time any hourly count is attributed to, or None with no work at all."""
    found = [rows.aggregate(first=Min(field))["first"] for _, rows, field in _late_sources()]
    times = [at for at in found if at is not None]
    return min(times) if times else None


# The tables the functions above read.
WORK_TABLES = (Annotation, Review, GoldScore, GoldAnswer, Lease, Task)


def work_tables_analyze_stale() -> list[str]:
    """Analyse those of the tables read here whose planner statistics are stale (PostgreSQL; see
    core/table_statistics.py); the rollup jobs call it before reading. Return their names."""
    return tables_analyze_stale(WORK_TABLES, purpose="before reading the work's hours")
