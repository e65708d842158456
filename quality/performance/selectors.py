"""Scoped reads of the hourly rollups: the defined measures of people, teams, projects and
customers, over a span of time, whole or by hour, day or week.

Scope (the existing rules, applied here once): administrators see everyone; a manager the people
of their teams (`workforce.selectors.teams.people_managed_by`, and themselves), the teams they
manage and the projects they manage; a customer's user only their customer's projects, and the
people who worked on them only by an anonymous id (the same person has a different id for each
customer); anyone else only themselves. A person outside the scope is "not found".

Counters are read from `PersonHour` rows and summed by subject and period (a team's in the
database, one grouped statement: `counters_summed`); every figure then comes from
`quality.performance.definitions`, so a person, a team and a project are measured alike. A project's (and a customer's) final tasks come from `ProjectHour`: a consensus
task is final once, however many people labeled it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Expression, F, IntegerField, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDay, TruncWeek

from core.errors import NotFound
from labeling import policy
from labeling.models import Project
from labeling.selectors import person_names
from quality.performance.definitions import (
    COUNTER_FIELDS,
    TIME_BUCKETS,
    ZERO,
    Costs,
    Counters,
    measures_of,
)
from quality.performance.models import PersonHour, ProjectAgreement, ProjectHour, RollupMark
from quality.performance.rollups import ROLLUP_NAME, hour_floor
from workforce.selectors.teams import people_managed_by, sees_every_team, teams_visible_to

GRAINS = ("hour", "day", "week", "all")
HOUR = timedelta(hours=1)
PERIOD_LENGTH = {"hour": HOUR, "day": timedelta(days=1), "week": timedelta(days=7)}

# A caller that owns money (payments) may price a row: (subject kind, subject id, period start,
# period end) -> the costs of that work, or None. Quality never computes money itself.
CostsOf = Callable[[str, Any, datetime, datetime], Costs | None]


@dataclass(frozen=True)
class Span:
    """Whole hours [since, until), UTC, read by `grain` ("hour", "day", "week" or "all")."""

    since: datetime
    until: datetime
    grain: str

    @classmethod
    def of(cls, since: datetime, until: datetime, grain: str) -> Span:
        if grain not in GRAINS:
            raise ValueError(f"grain: one of {', '.join(GRAINS)}.")
        end = hour_floor(until)
        if end < until:
            end += HOUR
        return cls(since=hour_floor(since), until=end, grain=grain)

    def period_of(self, hour: datetime) -> tuple[datetime, datetime]:
        """The period (start, end) that holds `hour`: its hour, UTC day, ISO week, or the span."""
        hour = hour.astimezone(UTC)
        if self.grain == "all":
            return self.since, self.until
        if self.grain == "hour":
            return hour, hour + HOUR
        day = hour.replace(hour=0)
        start = day if self.grain == "day" else day - timedelta(days=day.weekday())
        return start, start + PERIOD_LENGTH[self.grain]


@dataclass(frozen=True)
class MeasureRow:
    """One subject's measures over one period, with the counters they come from."""

    kind: str  # "person", "team", "project" or "customer"
    subject: int | str  # an id; for a customer's view of a person, their anonymous id
    name: str | None  # shown only to those who may see it
    period_start: datetime
    period_end: datetime
    counters: Counters
    measures: dict[str, float | int | None]
    agreement: ProjectAgreement | None = None


def anonymous_person_id(*, customer_id: int, user_id: int) -> str:
    """A person's id as one customer sees it: stable, the same for nobody else, and not
    reversible without the site's secret (an HMAC of the customer and the person)."""
    key = settings.SECRET_KEY.encode()
    message = f"quality.performance.person:{customer_id}:{user_id}".encode()
    return "p_" + hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


# --- Scope ------------------------------------------------------------------------------------


def _is_staff(viewer: Any) -> bool:
    return bool(getattr(viewer, "is_authenticated", False)) and policy.is_labeling_staff(viewer)


def _customer_id(viewer: Any) -> int | None:
    if _is_staff(viewer) or not policy.is_customer_user(viewer):
        return None
    customer = policy.customer_of(viewer)
    return customer.pk if customer is not None else None


def person_rows_visible_to(viewer: Any) -> QuerySet[PersonHour]:
    """The person-hour rows `viewer` may read (see the module docstring)."""
    rows = PersonHour.objects.all()
    if not getattr(viewer, "is_authenticated", False):
        return rows.none()
    if _is_staff(viewer):
        if sees_every_team(viewer):
            return rows
        return rows.filter(Q(user__in=people_managed_by(viewer).values("pk")) | Q(user=viewer.pk))
    if policy.is_customer_user(viewer):
        return rows.filter(project__in=policy.projects_managed_by(viewer).values("pk"))
    return rows.filter(user_id=viewer.pk)


def projects_measured_for(viewer: Any) -> QuerySet[Project]:
    """The projects whose figures `viewer` may read: labeling staff those they manage, a
    customer their own; nobody else any."""
    if _is_staff(viewer) or policy.is_customer_user(viewer):
        return policy.projects_managed_by(viewer)
    return Project.objects.none()


# --- Reading ----------------------------------------------------------------------------------

_FIELDS = ("user_id", "project_id", "hour", *COUNTER_FIELDS, "time_histogram")


def _grouped(
    rows: QuerySet[PersonHour], span: Span, key_of: Callable[[int, int], Iterable[Any]]
) -> dict[tuple[Any, datetime, datetime], Counters]:
    """Sum the rows of the span by (subject key, period); `key_of(user_id, project_id)` names
    the subjects a row counts for (none: it is left out). Sums in place, one pass over the
    rows, and makes each sum a `Counters` once at the end."""
    width = len(COUNTER_FIELDS)
    sums: dict[tuple[Any, datetime, datetime], list[int]] = {}
    for values in rows.filter(hour__gte=span.since, hour__lt=span.until).values_list(*_FIELDS):
        start, end = span.period_of(values[2])
        numbers = values[3 : 3 + width]
        histogram = values[3 + width]
        for key in key_of(values[0], values[1]):
            total = sums.get((key, start, end))
            if total is None:
                sums[(key, start, end)] = [*numbers, *histogram]
                continue
            for i, number in enumerate(numbers):
                total[i] += number
            for i, count in enumerate(histogram, start=width):
                total[i] += count
    return {
        key: Counters(
            **dict(zip(COUNTER_FIELDS, total[:width], strict=True)),
            time_histogram=tuple(total[width:]),
        )
        for key, total in sums.items()
    }


# Summed counters as plain numbers: COUNTER_FIELDS, then the time histogram's buckets.
Summed = tuple[int, ...]


def _bucket(i: int) -> Cast:
    return Cast(KeyTextTransform(str(i), "time_histogram"), IntegerField())


def counters_summed(
    rows: QuerySet[PersonHour], **keys: Expression | F
) -> dict[tuple[Any, ...], Summed]:
    """Sum the rows' counters and their time histograms bucket by bucket, grouped by `keys`
    (name -> expression on PersonHour), in one statement; {key values: sums}.

    The sums are read as plain tuples (the ORM's per-row converters cost more than the SQL at
    thousands of groups); only the keys go through their converters (a truncated hour is an
    aware datetime on every database). `counters_from` makes a sum a `Counters`.
    """
    sums = {f"sum_{name}": Sum(name) for name in COUNTER_FIELDS}
    buckets = {f"bucket_{i}": Sum(_bucket(i)) for i in range(TIME_BUCKETS)}
    names = [f"key_{name}" for name in keys]
    query = (
        rows.order_by()
        .annotate(**{f"key_{name}": expression for name, expression in keys.items()})
        .values(*names)
        .annotate(**sums, **buckets)
        .values_list(*names, *sums, *buckets)
    )
    compiler = query.query.get_compiler(using=query.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # a filter that can match nothing (e.g. in an empty list)
        return {}
    width = len(names)
    selected = [alias for _, _, alias in compiler.select]
    if selected[:width] != names:  # the keys lead the select list; anything else is a bug here
        raise RuntimeError(f"Unexpected select order {selected[:width]} for {names}.")
    connection = connections[query.db]
    converters = compiler.get_converters([column for column, _, _ in compiler.select[:width]])
    found: dict[tuple[Any, ...], Summed] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            key = list(row[:width])
            for i, (functions, expression) in converters.items():
                for function in functions:
                    key[i] = function(key[i], expression, connection)
            found[tuple(key)] = tuple(int(value or 0) for value in row[width:])
    return found


def counters_from(values: Summed) -> Counters:
    """The `Counters` of one sum of `counters_summed`."""
    width = len(COUNTER_FIELDS)
    return Counters(
        **dict(zip(COUNTER_FIELDS, values[:width], strict=True)),
        time_histogram=tuple(values[width:]),
    )


def _period_key(span: Span) -> dict[str, Expression | F]:
    """The grouping of a span's periods in SQL: the hour itself, its UTC day or ISO week (the
    same periods as `Span.period_of`), or none for the whole span."""
    if span.grain == "hour":
        return {"period": F("hour")}
    if span.grain == "day":
        return {"period": TruncDay("hour", tzinfo=UTC)}
    if span.grain == "week":
        return {"period": TruncWeek("hour", tzinfo=UTC)}
    return {}


def _project_finals(
    project_ids: Iterable[int], span: Span, key_of: Callable[[int], Any]
) -> dict[tuple[Any, datetime, datetime], int]:
    finals: dict[tuple[Any, datetime, datetime], int] = defaultdict(int)
    for project_id, hour, n in ProjectHour.objects.filter(
        project_id__in=list(project_ids), hour__gte=span.since, hour__lt=span.until
    ).values_list("project_id", "hour", "final_tasks"):
        start, end = span.period_of(hour)
        finals[(key_of(project_id), start, end)] += n
    return finals


def _rows(
    kind: str,
    sums: dict[tuple[Any, datetime, datetime], Counters],
    names: dict[Any, str],
    costs_of: CostsOf | None,
    agreements: dict[Any, ProjectAgreement] | None = None,
) -> list[MeasureRow]:
    rows = []
    for (subject, start, end), counters in sums.items():
        costs = costs_of(kind, subject, start, end) if costs_of is not None else None
        rows.append(
            MeasureRow(
                kind=kind,
                subject=subject,
                name=names.get(subject),
                period_start=start,
                period_end=end,
                counters=counters,
                measures=measures_of(counters, costs),
                agreement=(agreements or {}).get(subject),
            )
        )
    rows.sort(key=lambda row: (str(row.subject).zfill(20), row.period_start))
    return rows


def person_measures(
    viewer: Any,
    *,
    span: Span,
    project_id: int | None = None,
    team_id: int | None = None,
    person_id: int | None = None,
    costs_of: CostsOf | None = None,
) -> list[MeasureRow]:
    """Each person's measures per period, within `viewer`'s scope, optionally of one project,
    one team (its current members) or one person. A customer's view names people only by their
    anonymous id and counts only the customer's projects."""
    rows = person_rows_visible_to(viewer)
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    if team_id is not None:
        rows = rows.filter(user__team_membership__team_id=team_id)
    if person_id is not None:
        rows = rows.filter(user_id=person_id)
    customer_id = _customer_id(viewer)
    if customer_id is not None:
        sums = _grouped(
            rows,
            span,
            lambda user_id, _: [anonymous_person_id(customer_id=customer_id, user_id=user_id)],
        )
        return _rows("person", sums, {}, costs_of)
    sums = _grouped(rows, span, lambda user_id, _: [user_id])
    names = person_names(user_ids={key for key, _, _ in sums}, with_contact=_is_staff(viewer))
    return _rows("person", sums, names, costs_of)


def person_measures_get(
    viewer: Any,
    *,
    person_id: int,
    span: Span,
    project_id: int | None = None,
    costs_of: CostsOf | None = None,
) -> list[MeasureRow]:
    """One person's measures per period; NotFound when they are outside `viewer`'s scope (a
    customer never addresses people by their real id)."""
    if not _person_in_scope(viewer, person_id):
        raise NotFound("No such person.", extra={"person": person_id})
    return person_measures(
        viewer, span=span, project_id=project_id, person_id=person_id, costs_of=costs_of
    )


def _person_in_scope(viewer: Any, person_id: int) -> bool:
    if not getattr(viewer, "is_authenticated", False):
        return False
    if person_id == viewer.pk:
        return True
    if not _is_staff(viewer):
        return False
    return sees_every_team(viewer) or people_managed_by(viewer).filter(pk=person_id).exists()


def team_measures(
    viewer: Any,
    *,
    span: Span,
    team_id: int | None = None,
    project_id: int | None = None,
    costs_of: CostsOf | None = None,
) -> list[MeasureRow]:
    """Each team's measures per period: the sum of its current members' rows (the teams
    `viewer` sees: all for administrators, a manager's own, none for anyone else), summed in
    the database by team and period: two statements however many members and rows."""
    teams = teams_visible_to(viewer)
    if team_id is not None:
        teams = teams.filter(pk=team_id)
    names = dict(teams.values_list("pk", "name"))
    rows = PersonHour.objects.filter(
        hour__gte=span.since,
        hour__lt=span.until,
        user__team_membership__team_id__in=list(names),
    )
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    summed = counters_summed(rows, team=F("user__team_membership__team_id"), **_period_key(span))
    sums: dict[tuple[Any, datetime, datetime], Counters] = {}
    for key, values in summed.items():
        start, end = span.period_of(key[1]) if len(key) > 1 else (span.since, span.until)
        sums[(key[0], start, end)] = counters_from(values)
    return _rows("team", sums, names, costs_of)


def _projects_for(viewer: Any, project_id: int | None) -> dict[int, Project]:
    projects = projects_measured_for(viewer)
    if project_id is not None:
        projects = projects.filter(pk=project_id)
    return {p.pk: p for p in projects.select_related(None).only("pk", "name", "customer_id")}


def project_measures(
    viewer: Any,
    *,
    span: Span,
    project_id: int | None = None,
    costs_of: CostsOf | None = None,
) -> list[MeasureRow]:
    """Each project's measures per period over everyone's work in it (final tasks counted once
    per task), with its stored agreement, for the projects `viewer` may read."""
    projects = _projects_for(viewer, project_id)
    rows = PersonHour.objects.filter(project_id__in=list(projects))
    sums = _grouped(rows, span, lambda _, project: [project])
    finals = _project_finals(projects, span, lambda project: project)
    for key in finals:
        sums.setdefault(key, ZERO)
    sums = {key: _with_finals(c, finals.get(key, 0)) for key, c in sums.items()}
    agreements = {a.project_id: a for a in ProjectAgreement.objects.filter(pk__in=list(projects))}
    names = {pk: p.name for pk, p in projects.items()}
    return _rows("project", sums, names, costs_of, agreements)


def customer_measures(
    viewer: Any, *, span: Span, costs_of: CostsOf | None = None
) -> list[MeasureRow]:
    """Each customer's measures per period over the projects `viewer` may read of theirs."""
    projects = _projects_for(viewer, None)
    customer_of = {pk: p.customer_id for pk, p in projects.items()}
    rows = PersonHour.objects.filter(project_id__in=list(projects))
    sums = _grouped(rows, span, lambda _, project: [customer_of[project]])
    finals = _project_finals(projects, span, lambda project: customer_of[project])
    for key in finals:
        sums.setdefault(key, ZERO)
    sums = {key: _with_finals(c, finals.get(key, 0)) for key, c in sums.items()}
    names = dict(
        policy.customers_visible_to(viewer)
        .filter(pk__in=set(customer_of.values()))
        .values_list("pk", "name")
    )
    return _rows("customer", sums, names, costs_of)


def _with_finals(counters: Counters, final_tasks: int) -> Counters:
    """A project's counters with its own count of final tasks (not the sum over people)."""
    values = counters.as_dict()
    values["final_tasks"] = final_tasks
    values["time_histogram"] = counters.time_histogram
    return Counters(**values)


def rollups_until() -> datetime | None:
    """Until when the rollups are complete (the job's watermark), None before its first run."""
    return (
        RollupMark.objects.filter(name=ROLLUP_NAME).values_list("rolled_until", flat=True).first()
    )


def rows_sorted(rows: list[MeasureRow], sort: str | None) -> list[MeasureRow]:
    """Order rows by a measure (its name, "-" first for descending), rows without a value
    last, ties by subject and period; no sort keeps the order by subject and period."""
    if not sort:
        return rows
    name = sort.lstrip("-")
    valued = [row for row in rows if row.measures.get(name) is not None]
    missing = [row for row in rows if row.measures.get(name) is None]
    valued.sort(key=lambda row: float(row.measures[name] or 0), reverse=sort.startswith("-"))
    return valued + missing
