"""The project-centric figures of the dashboards: the manager overview, a project's page and a
customer's view, read from the hourly rollups (never raw annotations) through the selectors of
the apps that own them, in a fixed number of queries however many projects and people there are.

Scope is theirs, not ours: projects through `quality.performance.selectors.projects_measured_for`
(labeling's rule), people through `person_rows_visible_to` and workforce's team rule, rule actions
through `quality.selectors.rule_actions_visible_to`. People's figures come from
`quality.performance.definitions`, pace and ETA from `quality.performance.pace`, money from
`payments.selectors.ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, Sum

from kit.money import Micros, Minor, format_micros, format_minor, micros_to_minor
from labeling import policy
from labeling.models import Project, ProjectStatus, projects_with_counts
from labeling.models.projects import ProjectPurpose
from labeling.selectors import people_working_now, person_names
from payments.selectors.ledger import project_labour_cost
from quality.models import RuleAction
from quality.performance.definitions import (
    Costs,
    Counters,
    cost_per_final_task_minor,
    gold_interval,
)
from quality.performance.models import PersonHour, ProjectHour
from quality.performance.pace import Pace, project_paces
from quality.performance.rollups import hour_floor
from quality.performance.selectors import (
    MeasureRow,
    Span,
    person_rows_visible_to,
    project_measures,
    projects_measured_for,
)
from quality.selectors import rule_actions_visible_to
from workforce.selectors.teams import people_managed_by, sees_every_team

HOUR = timedelta(hours=1)
USUAL_DAYS = 7  # "usual" for an hour: the mean of the same hour on the 7 days before
QUALITY_WINDOW = timedelta(days=7)  # people's gold accuracy is judged over the last 7 days
ALERT_LIMIT = 50  # each alert list shows at most this many, newest or worst first
THROUGHPUT_DAYS = 30  # a project's chart: the last 30 UTC days


def overview_projects(viewer: Any) -> QuerySet[Project]:
    """The work projects on `viewer`'s overview: those they may read, not archived."""
    return (
        projects_with_counts(projects_measured_for(viewer))
        .filter(purpose=ProjectPurpose.WORK)
        .exclude(status=ProjectStatus.ARCHIVED)
        .select_related(None)
        .select_related("customer")
        .order_by("-priority", "name", "pk")
    )


@dataclass(frozen=True)
class Throughput:
    """One hour's work against the usual for that hour of the day."""

    hour: datetime
    submissions: int
    final_tasks: int
    usual_submissions: float
    usual_final_tasks: float


@dataclass(frozen=True)
class ProjectLine:
    project: Project
    pace: Pace
    final_tasks_last_hour: int
    working_now: int


@dataclass(frozen=True)
class PersonAlert:
    user_id: int
    name: str
    gold_scored: int
    gold_accuracy: float
    gold_high: float


@dataclass(frozen=True)
class Overview:
    now: datetime
    throughput: Throughput
    projects: list[ProjectLine]
    people_working: list[tuple[int, str]]
    people_working_count: int
    people_below: list[PersonAlert]
    floor: float
    late_projects: list[ProjectLine]
    actions_today: list[RuleAction]


def _hours_for_throughput(now: datetime) -> tuple[datetime, list[datetime]]:
    last = hour_floor(now) - HOUR
    return last, [last - timedelta(days=day) for day in range(1, USUAL_DAYS + 1)]


def throughput(project_ids: list[int], *, now: datetime) -> Throughput:
    """The last whole hour's submissions and final tasks in these projects against the mean of
    the same hour over the 7 days before (two queries, over the rollups)."""
    last, usual_hours = _hours_for_throughput(now)
    hours = [last, *usual_hours]
    submissions = dict(
        PersonHour.objects.filter(project_id__in=project_ids, hour__in=hours)
        .values("hour")
        .annotate(n=Sum("submissions"))
        .values_list("hour", "n")
    )
    finals = dict(
        ProjectHour.objects.filter(project_id__in=project_ids, hour__in=hours)
        .values("hour")
        .annotate(n=Sum("final_tasks"))
        .values_list("hour", "n")
    )
    return Throughput(
        hour=last,
        submissions=int(submissions.get(last) or 0),
        final_tasks=int(finals.get(last) or 0),
        usual_submissions=sum(int(submissions.get(h) or 0) for h in usual_hours) / USUAL_DAYS,
        usual_final_tasks=sum(int(finals.get(h) or 0) for h in usual_hours) / USUAL_DAYS,
    )


def probation_floor() -> float:
    """The gold accuracy below which a person is flagged: the probation floor (settings)."""
    return float(settings.QUORUM_PROBATION_FLOOR_UPPER)


def people_below_threshold(viewer: Any, *, now: datetime) -> list[PersonAlert]:
    """The people in `viewer`'s scope whose gold accuracy over the last 7 days is, with 95%
    confidence, below the probation floor: the upper end of its Wilson interval under the
    floor (the probation rule's test). Worst first; two queries."""
    floor = probation_floor()
    sums = (
        person_rows_visible_to(viewer)
        .filter(hour__gte=hour_floor(now) - QUALITY_WINDOW, gold_scored__gt=0)
        .values("user_id")
        .annotate(n=Sum("gold_scored"), micros=Sum("gold_score_micros"))
        .values_list("user_id", "n", "micros")
    )
    flagged: list[tuple[int, Counters, float, float]] = []
    for user_id, n, micros in sums:
        counters = Counters(gold_scored=int(n), gold_score_micros=int(micros))
        interval = gold_interval(counters)
        if interval is not None and interval[1] < floor:
            flagged.append((user_id, counters, int(micros) / 1_000_000 / int(n), interval[1]))
    flagged.sort(key=lambda row: (row[3], row[0]))
    flagged = flagged[:ALERT_LIMIT]
    names = person_names(user_ids=[row[0] for row in flagged], with_contact=True)
    return [
        PersonAlert(
            user_id=user_id,
            name=names.get(user_id, f"Person {user_id}"),
            gold_scored=counters.gold_scored,
            gold_accuracy=accuracy,
            gold_high=high,
        )
        for user_id, counters, accuracy, high in flagged
    ]


def _people_in_scope(viewer: Any, user_ids: set[int]) -> set[int]:
    if sees_every_team(viewer) or not user_ids:
        return user_ids
    managed = set(people_managed_by(viewer).filter(pk__in=user_ids).values_list("pk", flat=True))
    return managed | ({viewer.pk} & user_ids)


def rule_actions_today(viewer: Any, *, now: datetime) -> list[RuleAction]:
    """The quality rule actions taken since 00:00 UTC on people in `viewer`'s scope, newest first."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return list(rule_actions_visible_to(viewer).filter(taken_at__gte=midnight)[:ALERT_LIMIT])


def manager_overview(viewer: Any, *, now: datetime) -> Overview:
    """Everything on the manager overview, scoped to `viewer` (labeling staff), in a fixed
    number of queries."""
    projects = list(overview_projects(viewer))
    ids = [p.pk for p in projects]
    paces = project_paces(projects, now=now)
    last, _ = _hours_for_throughput(now)
    finals_last_hour = dict(
        ProjectHour.objects.filter(project_id__in=ids, hour=last).values_list(
            "project_id", "final_tasks"
        )
    )
    working = people_working_now(project_ids=ids, now=now)
    lines = [
        ProjectLine(
            project=p,
            pace=paces[p.pk],
            final_tasks_last_hour=int(finals_last_hour.get(p.pk, 0)),
            working_now=len(working.get(p.pk, ())),
        )
        for p in projects
    ]
    everyone = set().union(*working.values()) if working else set()
    visible = sorted(_people_in_scope(viewer, everyone))
    names = person_names(user_ids=visible[:ALERT_LIMIT], with_contact=True)
    return Overview(
        now=now,
        throughput=throughput(ids, now=now),
        projects=lines,
        people_working=[(pk, names.get(pk, f"Person {pk}")) for pk in visible[:ALERT_LIMIT]],
        people_working_count=len(everyone),
        people_below=people_below_threshold(viewer, now=now),
        floor=probation_floor(),
        late_projects=[line for line in lines if line.pace.is_late],
        actions_today=rule_actions_today(viewer, now=now),
    )


# --- A project's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectCost:
    """A project's labour cost in one currency, and per final task (minor units, half up)."""

    total: Micros
    per_final_task: Minor | None

    @property
    def total_text(self) -> str:
        return format_micros(self.total)

    @property
    def per_final_task_text(self) -> str:
        return format_minor(self.per_final_task) if self.per_final_task is not None else "—"


def project_costs(projects: list[Project]) -> dict[int, list[ProjectCost]]:
    """Each project's labour cost per currency (payments' ledger) and its cost per final task
    (the cost in whole minor units over the tasks final so far, as the measures define it)."""
    finals = {p.pk: p.tasks_completed for p in projects}
    costs: dict[int, list[ProjectCost]] = {}
    for project_id, totals in project_labour_cost([p.pk for p in projects]).items():
        for total in totals:
            minor, _ = micros_to_minor(total)
            per_task = cost_per_final_task_minor(
                Costs(currency=total.currency, cost_minor=minor.amount, earnings_minor=0),
                finals.get(project_id, 0),
            )
            costs.setdefault(project_id, []).append(
                ProjectCost(
                    total=total,
                    per_final_task=None if per_task is None else Minor(per_task, total.currency),
                )
            )
    return costs


@dataclass(frozen=True)
class DayPoint:
    day: datetime
    row: MeasureRow | None

    def measure(self, name: str) -> float | int | None:
        return self.row.measures.get(name) if self.row is not None else None


@dataclass
class ProjectFigures:
    project: Project
    pace: Pace
    whole: MeasureRow | None
    days: list[DayPoint]
    costs: list[ProjectCost] = field(default_factory=list)
    working_now: int = 0

    @property
    def progress_percent(self) -> int:
        total = self.project.tasks_total
        return (self.project.tasks_completed * 100) // total if total else 0


def project_get(viewer: Any, *, project_id: int) -> Project | None:
    """The project if `viewer` may read its figures (archived ones too), else None."""
    return (
        projects_with_counts(projects_measured_for(viewer))
        .filter(pk=project_id)
        .select_related(None)
        .select_related("customer")
        .first()
    )


def project_figures(viewer: Any, project: Project, *, now: datetime) -> ProjectFigures:
    """A project's progress, pace, daily throughput and quality over the last 30 days, and its
    cost, for a project `viewer` may read (see `project_get`)."""
    end = hour_floor(now) + HOUR
    start = hour_floor(now).replace(hour=0) - timedelta(days=THROUGHPUT_DAYS - 1)
    days = project_measures(viewer, span=Span.of(start, end, "day"), project_id=project.pk)
    whole = project_measures(viewer, span=Span.of(start, end, "all"), project_id=project.pk)
    by_day = {row.period_start: row for row in days}
    points = []
    day = start
    while day < end:
        points.append(DayPoint(day=day, row=by_day.get(day)))
        day += timedelta(days=1)
    working = people_working_now(project_ids=[project.pk], now=now)
    return ProjectFigures(
        project=project,
        pace=project_paces([project], now=now)[project.pk],
        whole=whole[0] if whole else None,
        days=points,
        costs=project_costs([project]).get(project.pk, []),
        working_now=len(working.get(project.pk, ())),
    )


# --- A customer's view --------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerLine:
    project: Project
    pace: Pace
    week: MeasureRow | None
    costs: list[ProjectCost]


def customer_overview(viewer: Any, *, now: datetime) -> list[CustomerLine]:
    """A customer's projects (their own only) with progress, pace and ETA, the last 7 days'
    throughput and quality, and cost if priced; nobody is named."""
    if not policy.is_customer_user(viewer):
        return []
    projects = list(overview_projects(viewer))
    paces = project_paces(projects, now=now)
    end = hour_floor(now) + HOUR
    week = {
        row.subject: row
        for row in project_measures(viewer, span=Span.of(end - timedelta(days=7), end, "all"))
    }
    costs = project_costs(projects)
    return [
        CustomerLine(project=p, pace=paces[p.pk], week=week.get(p.pk), costs=costs.get(p.pk, []))
        for p in projects
    ]
