"""Reads of incentive programs: the version in force, the periods, the people a period judges and
their figures (quality's hourly rollups through quality's own definitions, and their earnings
from the ledger), and the periods due to close.

Figures are read batch by batch of people (ordered by user id), so judging a period holds one
batch in memory whatever the number of people.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from kit.money import Micros, micros_to_minor
from payments.incentive_rules import THRESHOLDS, Figures, Tier, ppm, tier_checks
from payments.models import (
    IncentiveBonusLine,
    IncentivePeriod,
    IncentivePeriodKind,
    IncentivePeriodStatus,
    IncentiveProgram,
    IncentiveScope,
    IncentiveVersion,
)
from payments.selectors.earning_cells import BONUS_PREFIX, earning_cells
from quality.performance.definitions import ZERO, Counters, measures_of
from quality.performance.models import PersonHour, counters_of
from quality.performance.selectors import rollups_until
from workforce.models import TeamMembership

# The source keys of accrual (set by accrual: `earning:accrue:<...>`) and of incentive bonuses.
FINAL_PREFIX = "earning:final:"
DEFAULT_BATCH = 500


def period_bounds(kind: str, moment: datetime) -> tuple[datetime, datetime]:
    """The period of `kind` ("day" or "week") that holds `moment`: [start, end), UTC."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == IncentivePeriodKind.DAY:
        return day, day + timedelta(days=1)
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=7)


def bonus_source_key(*, version_id: int, starts_at: datetime, user_id: int) -> str:
    """The ledger source key of one person's bonus: (program version, period, person)."""
    return f"{BONUS_PREFIX}{version_id}:{starts_at.astimezone(UTC):%Y%m%d}:{user_id}"


def incentive_programs_list() -> QuerySet[IncentiveProgram]:
    return IncentiveProgram.objects.select_related("project", "team", "created_by")


def incentive_versions_list() -> QuerySet[IncentiveVersion]:
    return IncentiveVersion.objects.select_related("program", "created_by")


def incentive_version_in_force(program: IncentiveProgram, at: datetime) -> IncentiveVersion | None:
    """The version of `program` that applies at `at` (the latest started by then), or None."""
    return (
        IncentiveVersion.objects.filter(program=program, effective_from__lte=at)
        .order_by("-effective_from", "-pk")
        .first()
    )


def incentive_version_for_period(
    program: IncentiveProgram, ends_at: datetime
) -> IncentiveVersion | None:
    """The version a period is judged by: the one in force at its close (its end). A version
    that starts exactly at the end belongs to the next period."""
    return (
        IncentiveVersion.objects.filter(program=program, effective_from__lt=ends_at)
        .order_by("-effective_from", "-pk")
        .first()
    )


def incentive_periods_list() -> QuerySet[IncentivePeriod]:
    return IncentivePeriod.objects.select_related("program", "version", "started_by")


def incentive_lines_of(user_id: int) -> QuerySet[IncentiveBonusLine]:
    """A person's bonus lines of closed periods, newest period first (one query with the
    period, the program and the version)."""
    return (
        IncentiveBonusLine.objects.filter(
            user_id=user_id, period__status=IncentivePeriodStatus.CLOSED
        )
        .select_related("period__program", "version")
        .order_by("-period__starts_at", "period__program__name", "pk")
    )


def _rows_in_scope(program: IncentiveProgram, starts_at: datetime, ends_at: datetime) -> Any:
    rows = PersonHour.objects.filter(hour__gte=starts_at, hour__lt=ends_at)
    if program.scope == IncentiveScope.PROJECT:
        rows = rows.filter(project=program.project)
    elif program.scope == IncentiveScope.TEAM:
        rows = rows.filter(
            user_id__in=TeamMembership.objects.filter(team=program.team).values("user_id")
        )
    return rows


def incentive_people_count(
    program: IncentiveProgram, starts_at: datetime, ends_at: datetime
) -> int:
    """How many people worked in the program's scope in the period (those it judges)."""
    return _rows_in_scope(program, starts_at, ends_at).values("user_id").distinct().count()


def incentive_people_batches(
    program: IncentiveProgram,
    starts_at: datetime,
    ends_at: datetime,
    *,
    after_user_id: int = 0,
    batch_size: int = DEFAULT_BATCH,
) -> Iterator[list[int]]:
    """The ids of the people the period judges, ascending, `batch_size` at a time, from after
    `after_user_id` (a resumed close starts after the last person judged)."""
    rows = _rows_in_scope(program, starts_at, ends_at)
    last = after_user_id
    while True:
        batch = list(
            rows.filter(user_id__gt=last)
            .order_by("user_id")
            .values_list("user_id", flat=True)
            .distinct()[:batch_size]
        )
        if not batch:
            return
        yield batch
        last = batch[-1]


def period_earnings_minor(
    program: IncentiveProgram, starts_at: datetime, ends_at: datetime, user_ids: Sequence[int]
) -> dict[int, int]:
    """Each person's earnings of the period in the program's scope and currency: what accrued to
    their pending account in the period, less reversals of accruals posted in it (the cells of
    payments/selectors/earning_cells.py, of the program's project only when it has one), rounded
    down to minor units. A few queries per batch of people."""
    project_id = program.project_id if program.scope == IncentiveScope.PROJECT else None
    totals: dict[int, int] = {}
    for (user_id, _, project, currency), cell in earning_cells(
        user_ids, since=starts_at, until=ends_at
    ).items():
        if project is None or currency != program.currency:
            continue  # bonuses, or another currency
        if project_id is not None and project != project_id:
            continue
        totals[user_id] = totals.get(user_id, 0) + cell.earned_micros + cell.reversed_micros
    return {
        user_id: micros_to_minor(Micros(total, program.currency))[0].amount
        for user_id, total in totals.items()
    }


@dataclass(frozen=True)
class PersonFigures:
    """A person's counters over the period in scope, and the figures the formula reads."""

    user_id: int
    counters: Counters
    figures: Figures


def incentive_figures(
    program: IncentiveProgram, starts_at: datetime, ends_at: datetime, user_ids: Sequence[int]
) -> list[PersonFigures]:
    """The figures of a batch of people: their hourly rollups summed (quality's counters) and
    measured by quality's definitions, and their earnings from the ledger. Two queries."""
    sums: dict[int, Counters] = {}
    rows = _rows_in_scope(program, starts_at, ends_at).filter(user_id__in=list(user_ids))
    for row in rows.order_by("user_id", "hour", "project_id").iterator(chunk_size=2000):
        sums[row.user_id] = sums.get(row.user_id, ZERO) + counters_of(row)
    earnings = period_earnings_minor(program, starts_at, ends_at, user_ids)
    found = []
    for user_id in user_ids:
        counters = sums.get(user_id, ZERO)
        measures = measures_of(counters)
        found.append(
            PersonFigures(
                user_id=user_id,
                counters=counters,
                figures=Figures(
                    final_tasks=int(measures["final_tasks"] or 0),
                    active_seconds=counters.active_seconds,
                    gold_low_ppm=ppm(_share(measures["gold_accuracy_low"])),
                    review_pass_ppm=ppm(_share(measures["review_pass_rate"])),
                    agreement_ppm=ppm(_share(measures["agreement"])),
                    earnings_minor=earnings.get(user_id, 0),
                ),
            )
        )
    return found


def _share(value: float | int | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class DuePeriod:
    program_id: int
    starts_at: datetime


def incentive_periods_due(*, now: datetime, limit: int = 100) -> list[DuePeriod]:
    """Periods of every program that have ended, whose hourly rollups are complete (quality's
    watermark is at or past their end), that a version covers, and that are not closed yet."""
    watermark = rollups_until()
    if watermark is None:
        return []
    horizon = min(now, watermark)
    due: list[DuePeriod] = []
    for program in IncentiveProgram.objects.order_by("pk"):
        first = (
            IncentiveVersion.objects.filter(program=program)
            .order_by("effective_from")
            .values_list("effective_from", flat=True)
            .first()
        )
        if first is None:
            continue
        closed = set(
            IncentivePeriod.objects.filter(
                program=program, status=IncentivePeriodStatus.CLOSED
            ).values_list("starts_at", flat=True)
        )
        starts, ends = period_bounds(program.period, first)
        while ends <= horizon and len(due) < limit:
            if starts not in closed:
                due.append(DuePeriod(program.pk, starts))
            starts, ends = ends, period_bounds(program.period, ends)[1]
    return due


@dataclass(frozen=True)
class ThresholdStanding:
    """One threshold of a tier and where the person stands against it so far."""

    label: str
    required: int
    actual: int | None
    met: bool
    share: bool  # a share in ppm (shown as a percentage), else a count


@dataclass(frozen=True)
class TierStanding:
    number: int  # 1-based
    reward: int  # minor units (bonus) or parts per million of earnings (multiplier), as stored
    thresholds: tuple[ThresholdStanding, ...]

    @property
    def met(self) -> bool:
        return all(threshold.met for threshold in self.thresholds)


@dataclass(frozen=True)
class IncentiveStanding:
    """Where a person stands, so far in the current period, in one program that applies to them:
    the version in force, each tier's thresholds against their figures (the figures the period's
    close will read, by the same functions)."""

    program: IncentiveProgram
    version: IncentiveVersion
    starts_at: datetime
    ends_at: datetime
    tiers: tuple[TierStanding, ...]


def incentive_standings_of(*, user_id: int, at: datetime) -> list[IncentiveStanding]:
    """The programs that apply to the person now (everyone's, their teams', the projects they
    worked on this period) with a version in force, and their standing in each so far. A few
    queries per program; a person is in a handful of programs."""
    team_ids = set(TeamMembership.objects.filter(user_id=user_id).values_list("team_id", flat=True))
    found = []
    for program in incentive_programs_list().order_by("name", "pk"):
        if program.scope == IncentiveScope.TEAM and program.team_id not in team_ids:
            continue
        starts_at, ends_at = period_bounds(program.period, at)
        if (
            program.scope == IncentiveScope.PROJECT
            and not _rows_in_scope(program, starts_at, ends_at).filter(user_id=user_id).exists()
        ):
            continue
        version = incentive_version_in_force(program, at)
        if version is None:
            continue
        (person,) = incentive_figures(program, starts_at, at, [user_id])
        labels = {name: (label, kind == "share") for name, label, kind in THRESHOLDS}
        tiers = tuple(
            TierStanding(
                number=number,
                reward=int(tier["reward"]),
                thresholds=tuple(
                    ThresholdStanding(
                        label=labels[check.threshold][0],
                        required=check.required,
                        actual=check.actual,
                        met=check.met,
                        share=labels[check.threshold][1],
                    )
                    for check in tier_checks(Tier.from_dict(tier), person.figures)
                ),
            )
            for number, tier in enumerate(version.tiers, start=1)
        )
        found.append(IncentiveStanding(program, version, starts_at, ends_at, tiers))
    return found
