"""Keep the hourly rollups: recompute whole hours from raw data, and catch up from a watermark.

Nothing here runs on the claim or submit path: a Celery beat job (`rollups_catch_up`) recomputes
the hours since its watermark, minus a margin of recent hours it always redoes (late commits,
leases that end, tasks that become final and score their work), plus the hours of rows stored
late with an earlier time (imports of history) and of gold scores rescored by an answer's fix.
Recomputing an hour replaces its rows with what the raw data says (upsert, then the rows the
data no longer has are deleted), so running twice changes nothing and `rollups_rebuild`
recomputes any span from scratch.

Both jobs first refresh the planner's statistics of the raw tables they read when those are stale,
and afterwards those of the rollups they wrote (core/table_statistics.py): on a database whose
autovacuum has not caught up (or is off), a long span read or a page read right after would
otherwise be planned as if the rows were not there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from core.table_statistics import tables_analyze_stale
from labeling.work_hours import (
    earliest_work_at,
    gold_fixed_hours,
    hours_of_rows_after,
    person_hour_counts,
    project_hour_final_tasks,
    work_id_marks,
    work_tables_analyze_stale,
)
from quality.performance.definitions import (
    COUNTER_FIELDS,
    MICROS,
    TIME_BUCKET_EDGES,
    TIME_BUCKETS,
    Counters,
)
from quality.performance.models import PersonHour, ProjectHour, RollupMark

ROLLUP_NAME = "person_hours"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class RollupOutcome:
    hours: int  # hours recomputed
    rows: int  # person-hour rows written
    deleted: int  # person-hour rows the raw data no longer has
    rolled_until: datetime | None = None


def hour_floor(at: datetime) -> datetime:
    """The start of the UTC hour holding `at`."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def counters_from_counts(values: dict[str, int | float]) -> Counters:
    """Turn one hour's raw counts (`labeling.work_hours.person_hour_counts`) into counters."""
    return Counters(
        submissions=int(values.get("submissions", 0)),
        reworks=int(values.get("reworks", 0)),
        final_tasks=int(values.get("final_tasks", 0)),
        active_seconds=int(values.get("active_seconds", 0)),
        gold_scored=int(values.get("gold_scored", 0)),
        gold_score_micros=round(float(values.get("gold_score_sum", 0.0)) * MICROS),
        reviews_passed=int(values.get("reviews_passed", 0)),
        reviews_failed=int(values.get("reviews_failed", 0)),
        corrections=int(values.get("corrections", 0)),
        agreement_count=int(values.get("agreement_count", 0)),
        agreement_micros=round(float(values.get("agreement_sum", 0.0)) * MICROS),
        skips=int(values.get("skips", 0)),
        lease_expiries=int(values.get("lease_expiries", 0)),
        time_histogram=tuple(int(values.get(f"bucket_{i}", 0)) for i in range(TIME_BUCKETS)),
    )


def _row(user_id: int, project_id: int, hour: datetime, counters: Counters) -> PersonHour:
    return PersonHour(
        user_id=user_id,
        project_id=project_id,
        hour=hour,
        **{name: getattr(counters, name) for name in COUNTER_FIELDS},
        time_histogram=list(counters.time_histogram),
    )


@transaction.atomic
def hours_recompute(
    *, start: datetime, end: datetime, project_id: int | None = None
) -> RollupOutcome:
    """Make the rollups of the whole hours in [start, end) (hour-aligned, UTC) equal to what the
    raw data says now, for one project or all: upsert every (person, project, hour) the data
    has, delete the rows it no longer has. Idempotent."""
    counts = person_hour_counts(
        start=start, end=end, time_edges=TIME_BUCKET_EDGES, project_id=project_id
    )
    rows = []
    for (user_id, project, hour), values in counts.items():
        counters = counters_from_counts(values)
        if counters != Counters():
            rows.append(_row(user_id, project, hour, counters))
    scope = PersonHour.objects.filter(hour__gte=start, hour__lt=end)
    projects = ProjectHour.objects.filter(hour__gte=start, hour__lt=end)
    if project_id is not None:
        scope = scope.filter(project_id=project_id)
        projects = projects.filter(project_id=project_id)
    kept = {(row.user_id, row.project_id, row.hour) for row in rows}
    stale = [
        pk
        for pk, user_id, project, hour in scope.values_list("pk", "user_id", "project_id", "hour")
        if (user_id, project, hour.astimezone(UTC)) not in kept
    ]
    deleted = 0
    for i in range(0, len(stale), 500):
        deleted += PersonHour.objects.filter(pk__in=stale[i : i + 500]).delete()[0]
    PersonHour.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["user", "project", "hour"],
        update_fields=[*COUNTER_FIELDS, "time_histogram"],
    )
    finals = project_hour_final_tasks(start=start, end=end, project_id=project_id)
    gone = [
        pk
        for pk, project, hour in projects.values_list("pk", "project_id", "hour")
        if (project, hour.astimezone(UTC)) not in finals
    ]
    ProjectHour.objects.filter(pk__in=gone).delete()
    ProjectHour.objects.bulk_create(
        [
            ProjectHour(project_id=project, hour=hour, final_tasks=n)
            for (project, hour), n in finals.items()
        ],
        batch_size=500,
        update_conflicts=True,
        unique_fields=["project", "hour"],
        update_fields=["final_tasks"],
    )
    return RollupOutcome(hours=int((end - start) / HOUR), rows=len(rows), deleted=deleted)


def _spans(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Merge hour starts into [start, end) spans of consecutive hours."""
    spans: list[tuple[datetime, datetime]] = []
    for hour in sorted(set(hours)):
        if spans and spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + HOUR)
        else:
            spans.append((hour, hour + HOUR))
    return spans


def _chunks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    size = HOUR * max(1, int(settings.QUORUM_ROLLUP_CHUNK_HOURS))
    chunks = []
    while start < end:
        chunks.append((start, min(start + size, end)))
        start += size
    return chunks


def _add(total: RollupOutcome, part: RollupOutcome) -> RollupOutcome:
    return RollupOutcome(
        hours=total.hours + part.hours,
        rows=total.rows + part.rows,
        deleted=total.deleted + part.deleted,
        rolled_until=total.rolled_until,
    )


def _rollups_analyze_stale(outcome: RollupOutcome) -> None:
    """Refresh the rollups' statistics after writing `outcome.rows` rows, when stale."""
    tables_analyze_stale(
        [PersonHour, ProjectHour],
        purpose="after the hourly rollups",
        changed={PersonHour: outcome.rows + outcome.deleted},
    )


def rollups_catch_up(*, now: datetime | None = None) -> RollupOutcome:
    """Bring the rollups up to `now` minus the configured lag (the beat job).

    Recomputes, in spans of at most QUORUM_ROLLUP_CHUNK_HOURS hours each committed on its own:
    the hours of rows stored late since the last run (ids above the watermark with an earlier
    time) and of gold scores rescored by a fix, then every hour from the watermark less
    QUORUM_ROLLUP_RECENT_HOURS up to the hour holding now - QUORUM_ROLLUP_LAG_MINUTES. The
    watermark advances after each span, so a run stopped half-way resumes where it stopped.
    The first run starts at the earliest work stored. Safe to run twice, or concurrently (each
    span locks the watermark row).
    """
    now = now or timezone.now()
    until = now - timedelta(minutes=int(settings.QUORUM_ROLLUP_LAG_MINUTES))
    recent = timedelta(hours=int(settings.QUORUM_ROLLUP_RECENT_HOURS))
    work_tables_analyze_stale()
    marks = work_id_marks()  # before anything is read: rows after these are seen next time
    with transaction.atomic():
        # The first run starts at the earliest work; two first runs at once create one mark.
        RollupMark.objects.get_or_create(  # type: ignore[misc]  # a callable default runs only on create
            name=ROLLUP_NAME,
            defaults={
                "rolled_until": lambda: min(earliest_work_at() or until, until),
                "id_marks": marks,
                "gold_fixed_until": until,
            },
        )
        mark = RollupMark.objects.select_for_update().get(name=ROLLUP_NAME)
        start = hour_floor(min(mark.rolled_until, until) - recent)
        late = hours_of_rows_after(mark.id_marks, before=start)
        # Fixes still committing (up to the lag) are left for the next run, as new work is.
        late |= gold_fixed_hours(since=mark.gold_fixed_until, until=until)
    end = hour_floor(until) + HOUR
    outcome = RollupOutcome(hours=0, rows=0, deleted=0)
    for span_start, span_end in _spans(hour for hour in late if hour < start):
        for chunk in _chunks(span_start, span_end):
            outcome = _add(outcome, hours_recompute(start=chunk[0], end=chunk[1]))
    for chunk_start, chunk_end in _chunks(start, end):
        with transaction.atomic():
            RollupMark.objects.select_for_update().get(name=ROLLUP_NAME)
            outcome = _add(outcome, hours_recompute(start=chunk_start, end=chunk_end))
            RollupMark.objects.filter(name=ROLLUP_NAME, rolled_until__lt=chunk_end).update(
                rolled_until=min(chunk_end, until), updated_at=now
            )
    RollupMark.objects.filter(name=ROLLUP_NAME).update(
        rolled_until=until, id_marks=marks, gold_fixed_until=until, updated_at=now
    )
    _rollups_analyze_stale(outcome)
    return RollupOutcome(
        hours=outcome.hours, rows=outcome.rows, deleted=outcome.deleted, rolled_until=until
    )


def rollups_rebuild(
    *, project_id: int | None = None, since: datetime | None = None, now: datetime | None = None
) -> RollupOutcome:
    """Recompute the rollups from raw data, for one project or all, from `since` (default: the
    earliest work or rollup row) up to the current hour, in committed chunks. Idempotent; the
    job's watermark is left as it is (what it redoes it redoes from the same data)."""
    now = now or timezone.now()
    work_tables_analyze_stale()
    if since is None:
        firsts = [
            earliest_work_at(),
            PersonHour.objects.aggregate(first=Min("hour"))["first"],
            ProjectHour.objects.aggregate(first=Min("hour"))["first"],
        ]
        known = [at for at in firsts if at is not None]
        if not known:
            return RollupOutcome(hours=0, rows=0, deleted=0)
        since = min(known)
    outcome = RollupOutcome(hours=0, rows=0, deleted=0)
    for chunk_start, chunk_end in _chunks(hour_floor(since), hour_floor(now) + HOUR):
        outcome = _add(
            outcome, hours_recompute(start=chunk_start, end=chunk_end, project_id=project_id)
        )
    _rollups_analyze_stale(outcome)
    return outcome
