"""Reads of the person-centric dashboards: the people table, a person's page, the team
comparison and a person's own view, all from the hourly rollups (`PersonHour`), never from raw
annotations.

Scope is quality's (`quality.performance.selectors.person_rows_visible_to` and
`person_measures_get`): a manager reads the people of their teams, an administrator everyone,
anyone else only themselves; a person outside the scope is "not found". Every figure comes from
`quality.performance.definitions`, so these pages, the API and the exports agree.

The people table sums each person's counters in the database (one grouped statement; the time
histogram's buckets summed element by element), then computes the measure it sorts on for every
person and all measures only for the page shown: the statements per page do not grow with the
number of people or rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from django.core.cache import cache
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDay

from core.errors import ValidationFailed
from core.timestamps import TimestampInvalid, parse_timestamp
from kit.money import Minor, format_minor
from labeling.models import Project, Review
from labeling.selectors import person_names
from payments.selectors.incentives import incentive_standings_of
from quality.models import QualityRule, RuleAction
from quality.performance.definitions import (
    BY_NAME,
    DEFINITIONS,
    MEASURE_NAMES,
    Counters,
    counters_sum,
    measures_of,
)
from quality.performance.models import PersonHour, RollupMark
from quality.performance.rollups import ROLLUP_NAME
from quality.performance.selectors import (
    MeasureRow,
    Span,
    counters_from,
    counters_summed,
    person_measures_get,
    person_rows_visible_to,
    projects_measured_for,
    rows_sorted,
    team_measures,
)
from quality.selectors import rule_actions_visible_to
from workforce.models import AnnotatorProfile, Skill, SkillLevel, Team, TeamMembership
from workforce.selectors.onboarding_steps import journey_state_choices
from workforce.selectors.teams import teams_visible_to

PER_PAGE = 50
DAY = timedelta(days=1)
# The periods a page offers: a name, and how many days back from now (today: since midnight UTC).
PERIODS: dict[str, str] = {
    "today": "Today",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "custom": "Custom dates",
}
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "7d"
# The longest custom period: the sparklines and charts have a point per day.
CUSTOM_MAX_DAYS = 366
DEFAULT_SORT = "-final_tasks"
SORTS = frozenset(order for name in MEASURE_NAMES for order in (name, f"-{name}"))
# The measures the team comparison and the annotator's own page show first (all are in the CSV).
MAIN_MEASURES: tuple[str, ...] = (
    "submissions",
    "final_tasks",
    "active_hours",
    "final_tasks_per_active_hour",
    "time_per_task_median",
    "time_per_task_p90",
    "gold_accuracy",
    "review_pass_rate",
    "correction_rate",
    "rework_rate",
    "agreement",
)


# --- The period ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The period a page shows: its key (see PERIODS) and its whole-hour span, UTC."""

    key: str
    span: Span

    @property
    def days(self) -> list[date]:
        """Every UTC day the span touches, oldest first (a point each in the charts)."""
        first = self.span.since.astimezone(UTC).date()
        last = (self.span.until - timedelta(microseconds=1)).astimezone(UTC).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def period_of(
    key: str | None, *, since: str | None = None, until: str | None = None, now: datetime
) -> Period:
    """The period named `key` (default: the last 7 days) up to `now`; "custom" reads `since`
    and `until` (dates or times; until is inclusive of its day when a date).

    Raises ValidationFailed naming the field for an unknown period or bad dates.
    """
    key = key or DEFAULT_PERIOD
    if key not in PERIODS:
        message = f"Choose one of: {', '.join(PERIODS)}."
        raise ValidationFailed(f"period: {message}", fields={"period": [message]})
    if key == "today":
        start = _day_start(now.astimezone(UTC).date())
        return Period(key, Span.of(start, max(now, start + timedelta(hours=1)), "all"))
    if key in PERIOD_DAYS:
        return Period(key, Span.of(now - timedelta(days=PERIOD_DAYS[key]), now, "all"))
    start = _moment("since", since)
    end = _moment("until", until)
    if end.time() == datetime.min.time() and until and "T" not in until:
        end += DAY  # a date given as the end means through that day
    if start >= end:
        message = "Give a start before the end."
        raise ValidationFailed(f"since: {message}", fields={"since": [message]})
    if end - start > timedelta(days=CUSTOM_MAX_DAYS):
        message = f"At most {CUSTOM_MAX_DAYS} days."
        raise ValidationFailed(f"since: {message}", fields={"since": [message]})
    return Period(key, Span.of(start, end, "all"))


def _moment(name: str, raw: str | None) -> datetime:
    if not raw:
        message = "Required for custom dates."
        raise ValidationFailed(f"{name}: {message}", fields={name: [message]})
    try:
        return parse_timestamp(raw)
    except TimestampInvalid as exc:
        raise ValidationFailed(f"{name}: {exc}", fields={name: [str(exc)]}) from None


def sort_of(raw: str | None) -> str:
    """The sort asked for (a measure's name, "-" first for descending), or the default.

    Raises ValidationFailed (field `sort`) for anything that is not a measure."""
    if not raw:
        return DEFAULT_SORT
    if raw not in SORTS:
        message = "Sort by a measure's name, with - first for descending."
        raise ValidationFailed(f"sort: {message}", fields={"sort": [message]})
    return raw


# --- The people table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PeopleFilters:
    """What the people table is narrowed to: a team (its current members), a project (the work
    in it), a skill (people holding it at any level) and a standing (journey state)."""

    team_id: int | None = None
    project_id: int | None = None
    skill_id: int | None = None
    standing: str | None = None


@dataclass
class PersonRow:
    user_id: int
    name: str
    standing: str
    team: str
    counters: Counters
    measures: dict[str, float | int | None]
    sparkline: list[int] = field(default_factory=list)


@dataclass
class PeopleTable:
    rows: list[PersonRow]
    total: int
    page: int
    pages: int
    sort: str
    days: list[date]


def _scoped_rows(viewer: Any, span: Span, filters: PeopleFilters) -> QuerySet[PersonHour]:
    rows = person_rows_visible_to(viewer).filter(hour__gte=span.since, hour__lt=span.until)
    if filters.project_id is not None:
        rows = rows.filter(project_id=filters.project_id)
    if filters.team_id is not None:
        rows = rows.filter(
            user_id__in=TeamMembership.objects.filter(team_id=filters.team_id).values("user_id")
        )
    if filters.skill_id is not None:
        holds = SkillLevel.objects.filter(user_id=OuterRef("user_id"), skill_id=filters.skill_id)
        rows = rows.filter(Exists(holds))
    if filters.standing:
        rows = rows.filter(
            user_id__in=AnnotatorProfile.objects.filter(status=filters.standing).values("user_id")
        )
    return rows


# Everyone's sums over a span (and one project, or all) and their order by each measure are
# cached until the rollup job next runs (its watermark is in the key) or SUMS_TTL seconds pass
# (a rebuild, which leaves the watermark, shows within that time). Who may be seen and the
# filters about people (team, skill, standing) are read fresh on every request and applied to
# the cached order, so scope never comes from the cache.
SUMS_TTL = 600
Sums = dict[int, tuple[int, ...]]  # person -> COUNTER_FIELDS, then the histogram's buckets


def _sums_key(span: Span, project_id: int | None) -> str | None:
    """The cache key of the sums of a span, None before the rollup job's first run."""
    mark = RollupMark.objects.filter(name=ROLLUP_NAME).values_list("updated_at", flat=True).first()
    if mark is None:
        return None
    return (
        f"dashboards:people-sums:{span.since.timestamp():.0f}:{span.until.timestamp():.0f}:"
        f"{project_id or 0}:{mark.timestamp():.6f}"
    )


def _sums_read(span: Span, project_id: int | None) -> Sums:
    """Everyone's counters summed over the span in one grouped statement (no scope: applied by
    the caller), by quality's `counters_summed`."""
    rows = PersonHour.objects.filter(hour__gte=span.since, hour__lt=span.until)
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    return {key[0]: values for key, values in counters_summed(rows, person=F("user_id")).items()}


def _sums(span: Span, project_id: int | None) -> tuple[Sums, str | None]:
    key = _sums_key(span, project_id)
    if key is not None:
        cached = cache.get(key)
        if cached is not None:
            return cast(Sums, cached), key
    sums = _sums_read(span, project_id)
    if key is not None:
        cache.set(key, sums, SUMS_TTL)
    return sums, key


def _in_scope(viewer: Any, span: Span, filters: PeopleFilters) -> set[int]:
    """The people `viewer` may see (quality's rule) who match the filters and have rows in the
    span: one statement, read fresh."""
    return set(
        _scoped_rows(viewer, span, filters).order_by().values_list("user_id", flat=True).distinct()
    )


def _sorted_ids(sums: Sums, sort: str) -> list[int]:
    """Person ids ordered by the measure `sort` names (as quality's rows_sorted orders: people
    without a value last, ties by id), computing only that measure."""
    definition = BY_NAME[sort.lstrip("-")]
    values = {uid: definition.compute(counters_from(v), None) for uid, v in sums.items()}
    valued = sorted(uid for uid, v in values.items() if v is not None)
    missing = sorted(uid for uid, v in values.items() if v is None)
    valued.sort(key=lambda uid: float(values[uid] or 0), reverse=sort.startswith("-"))
    return valued + missing


def _order(sums: Sums, key: str | None, sort: str) -> list[int]:
    """Everyone in `sums` in the order of `sort`, cached with the sums."""
    if key is None:
        return _sorted_ids(sums, sort)
    order_key = f"{key}:{sort}"
    cached = cache.get(order_key)
    if cached is not None:
        return cast(list[int], cached)
    order = _sorted_ids(sums, sort)
    cache.set(order_key, order, SUMS_TTL)
    return order


def _daily_final_tasks(
    viewer: Any, span: Span, filters: PeopleFilters, user_ids: list[int]
) -> dict[int, dict[date, int]]:
    found = (
        _scoped_rows(viewer, span, filters)
        .filter(user_id__in=user_ids)
        .annotate(day=TruncDay("hour", tzinfo=UTC))
        .order_by()
        .values("user_id", "day")
        .annotate(n=Sum("final_tasks"))
    )
    by_person: dict[int, dict[date, int]] = defaultdict(dict)
    for values in found:
        day = values["day"]
        by_person[values["user_id"]][day.date() if isinstance(day, datetime) else day] = int(
            values["n"] or 0
        )
    return by_person


def _people_rows(
    viewer: Any,
    period: Period,
    filters: PeopleFilters,
    counters: dict[int, Counters],
    user_ids: list[int],
    *,
    with_sparklines: bool,
) -> list[PersonRow]:
    names = person_names(user_ids=user_ids, with_contact=True)
    standings = dict(
        AnnotatorProfile.objects.filter(user_id__in=user_ids).values_list("user_id", "status")
    )
    teams = dict(
        TeamMembership.objects.filter(user_id__in=user_ids).values_list("user_id", "team__name")
    )
    labels = dict(journey_state_choices())
    days = period.days
    daily = _daily_final_tasks(viewer, period.span, filters, user_ids) if with_sparklines else {}
    rows = []
    for user_id in user_ids:
        status = standings.get(user_id, "")
        rows.append(
            PersonRow(
                user_id=user_id,
                name=names.get(user_id, f"#{user_id}"),
                standing=str(labels.get(status, status)),
                team=teams.get(user_id, ""),
                counters=counters[user_id],
                measures=measures_of(counters[user_id]),
                sparkline=[daily.get(user_id, {}).get(day, 0) for day in days]
                if with_sparklines
                else [],
            )
        )
    return rows


@dataclass(frozen=True)
class Ranking:
    """Everyone in the table, in its order, with their summed counters (cheap: no measures but
    the sorted one); `people_rows` then builds any slice of it."""

    period: Period
    filters: PeopleFilters
    sort: str
    sums: Sums
    order: list[int]


def people_ranked(
    viewer: Any, *, period: Period, filters: PeopleFilters, sort: str = DEFAULT_SORT
) -> Ranking:
    """The people in `viewer`'s scope with work in the period, ordered by `sort`: everyone's
    order (cached until the rollups change) narrowed to the scope and filters read now."""
    sums, key = _sums(period.span, filters.project_id)
    allowed = _in_scope(viewer, period.span, filters)
    order = [uid for uid in _order(sums, key, sort) if uid in allowed]
    return Ranking(period, filters, sort, sums, order)


def people_rows(
    viewer: Any, ranking: Ranking, user_ids: list[int], *, with_sparklines: bool = True
) -> list[PersonRow]:
    """The rows of `user_ids` (a slice of the ranking) with every measure, name, team and
    standing, and their daily final tasks when asked: a fixed number of statements."""
    counters = {uid: counters_from(ranking.sums[uid]) for uid in user_ids}
    return _people_rows(
        viewer,
        ranking.period,
        ranking.filters,
        counters,
        user_ids,
        with_sparklines=with_sparklines,
    )


def people_table(
    viewer: Any,
    *,
    period: Period,
    filters: PeopleFilters,
    sort: str = DEFAULT_SORT,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> PeopleTable:
    """One page of the people table: the people in `viewer`'s scope with work in the period,
    ordered by `sort` over everyone, each with all measures and their daily final tasks.

    A fixed number of statements whatever the number of people or rows."""
    ranking = people_ranked(viewer, period=period, filters=filters, sort=sort)
    pages = max(1, -(-len(ranking.order) // per_page))
    page = min(max(1, page), pages)
    shown = ranking.order[(page - 1) * per_page : page * per_page]
    return PeopleTable(
        rows=people_rows(viewer, ranking, shown),
        total=len(ranking.order),
        page=page,
        pages=pages,
        sort=sort,
        days=period.days,
    )


def people_table_all(
    viewer: Any, *, period: Period, filters: PeopleFilters, sort: str = DEFAULT_SORT
) -> list[PersonRow]:
    """Every row of the people table in the table's order (the CSV download), no sparklines."""
    ranking = people_ranked(viewer, period=period, filters=filters, sort=sort)
    return people_rows(viewer, ranking, ranking.order, with_sparklines=False)


@dataclass(frozen=True)
class FilterChoices:
    teams: list[tuple[int, str]]
    projects: list[tuple[int, str]]
    skills: list[tuple[int, str]]
    standings: list[tuple[str, str]]


def people_filter_choices(viewer: Any) -> FilterChoices:
    """What the people table's filters offer `viewer`: their teams and projects, every skill,
    every journey state."""
    return FilterChoices(
        teams=list(teams_visible_to(viewer).values_list("pk", "name")),
        projects=list(
            projects_measured_for(viewer).order_by("name", "pk").values_list("pk", "name")
        ),
        skills=list(Skill.objects.order_by("name", "pk").values_list("pk", "name")),
        standings=[(str(k), str(v)) for k, v in journey_state_choices()],
    )


# --- A person's page ------------------------------------------------------------------------------


@dataclass
class DaySeries:
    """A person's measures per UTC day of a period, a value (or None) for every day."""

    days: list[date]
    measures: dict[str, list[float | int | None]]

    def as_chart(self) -> dict[str, Any]:
        return {"days": [d.isoformat() for d in self.days], **self.measures}


@dataclass
class PersonPage:
    user_id: int
    name: str
    standing: str
    team: str
    period: Period
    total: dict[str, float | int | None]
    counters: Counters
    series: DaySeries
    daily: list[MeasureRow]
    actions: list[RuleAction]
    reviews: list[Review]


SERIES_MEASURES: tuple[str, ...] = (
    "submissions",
    "final_tasks",
    "active_hours",
    "gold_accuracy",
    "gold_accuracy_low",
    "gold_accuracy_high",
    "time_per_task_median",
    "time_per_task_p90",
    "review_pass_rate",
)


def person_series(
    viewer: Any, *, person_id: int, period: Period
) -> tuple[list[MeasureRow], DaySeries]:
    """A person's rows by day over the period and the chart series (every day, None where a
    measure is undefined; volumes 0 on days without work). NotFound outside `viewer`'s scope."""
    span = Span(since=period.span.since, until=period.span.until, grain="day")
    daily = person_measures_get(viewer, person_id=person_id, span=span)
    by_day = {row.period_start.date(): row.measures for row in daily}
    empty = measures_of(Counters())
    measures: dict[str, list[float | int | None]] = {
        name: [by_day.get(day, empty)[name] for day in period.days] for name in SERIES_MEASURES
    }
    return daily, DaySeries(days=period.days, measures=measures)


RECENT = 10


def person_page(viewer: Any, *, person_id: int, period: Period) -> PersonPage:
    """Everything a person's page shows: totals and daily series over the period, their recent
    rule actions and the latest reviews of their work. NotFound outside `viewer`'s scope."""
    daily, series = person_series(viewer, person_id=person_id, period=period)
    counters = counters_sum([row.counters for row in daily])
    names = person_names(user_ids=[person_id], with_contact=True)
    profile = AnnotatorProfile.objects.filter(user_id=person_id).values_list("status", flat=True)
    status = profile.first() or ""
    team = (
        TeamMembership.objects.filter(user_id=person_id)
        .values_list("team__name", flat=True)
        .first()
    )
    actions = list(rule_actions_visible_to(viewer).filter(user_id=person_id)[:RECENT])
    reviews = list(
        Review.objects.filter(author_id=person_id)
        .select_related("project", "reviewer")
        .order_by("-created_at", "-pk")[:RECENT]
    )
    labels = dict(journey_state_choices())
    return PersonPage(
        user_id=person_id,
        name=names.get(person_id, f"#{person_id}"),
        standing=str(labels.get(status, status)),
        team=team or "",
        period=period,
        total=measures_of(counters),
        counters=counters,
        series=series,
        daily=daily,
        actions=actions,
        reviews=reviews,
    )


# --- Teams side by side ---------------------------------------------------------------------------


def teams_compared(viewer: Any, *, period: Period, sort: str = DEFAULT_SORT) -> list[MeasureRow]:
    """Each team `viewer` sees, measured over the period (its current members' work), sorted."""
    rows = team_measures(viewer, span=period.span)
    return rows_sorted(rows, sort)


def teams_without_work(viewer: Any, rows: list[MeasureRow]) -> list[Team]:
    shown = {row.subject for row in rows}
    return [team for team in teams_visible_to(viewer) if team.pk not in shown]


# --- A person's own view --------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleThreshold:
    """A quality rule that can act on the person: what it measures, over what, and its line."""

    name: str
    project: str | None
    metric: str
    comparator: str
    threshold: float
    window: str
    action: str


def rules_that_apply_to(*, user: Any, project_ids: list[int]) -> list[RuleThreshold]:
    """The active quality rules that can act on `user`: the global ones and those of the
    projects they worked on in the period."""
    rules = QualityRule.objects.filter(is_active=True).filter(
        Q(project__isnull=True) | Q(project_id__in=project_ids)
    )
    names = dict(Project.objects.filter(pk__in=project_ids).values_list("pk", "name"))
    found = []
    for rule in sorted(rules, key=lambda r: (r.project_id or 0, r.name, r.pk)):
        found.append(
            RuleThreshold(
                name=rule.name,
                project=names.get(rule.project_id) if rule.project_id else None,
                metric=rule.get_metric_display(),
                comparator=rule.get_comparator_display(),
                threshold=rule.threshold,
                window=f"{rule.window_size} {rule.get_window_kind_display().lower()}",
                action=rule.get_action_display(),
            )
        )
    return found


def projects_worked_in(*, user: Any, period: Period) -> list[int]:
    """The projects `user` has rollups in over the period (their own rows only)."""
    return sorted(
        set(
            person_rows_visible_to(user)
            .filter(user_id=user.pk, hour__gte=period.span.since, hour__lt=period.span.until)
            .values_list("project_id", flat=True)
            .distinct()
        )
    )


def incentive_thresholds_of(*, user: Any, at: datetime) -> list[dict[str, Any]]:
    """The bonus programs that apply to `user` now, each tier's thresholds against their figures
    so far this period (payments' standings, read by the same functions as the period's close),
    as rows for the annotator's page."""
    rows = []
    for standing in incentive_standings_of(user_id=user.pk, at=at):
        version = standing.version
        tiers = []
        for tier in standing.tiers:
            if version.kind == "multiplier":
                whole, rest = divmod(tier.reward, 10_000)  # ppm as a percentage, exactly
                percent = f"{whole}.{rest:04d}".rstrip("0").rstrip(".")
                reward = f"+{percent}% of your earnings in it"
            else:
                amount = Minor(tier.reward, standing.program.currency)
                reward = f"{format_minor(amount)} bonus"
            tiers.append(
                {
                    "number": tier.number,
                    "reward": reward,
                    "met": tier.met,
                    "thresholds": [
                        {
                            "label": t.label,
                            "line": _threshold_text(t.required, t.share),
                            "current": "none yet"
                            if t.actual is None
                            else _threshold_text(t.actual, t.share),
                            "met": t.met,
                        }
                        for t in tier.thresholds
                    ],
                }
            )
        rows.append(
            {
                "program": standing.program.name,
                "period": standing.program.get_period_display(),
                "ends_at": standing.ends_at,
                "tiers": tiers,
            }
        )
    return rows


def _threshold_text(value: int, share: bool) -> str:
    return f"{value / 10_000:.1f}%" if share else f"{value:,}"


def definitions_of(names: tuple[str, ...]) -> list[Any]:
    return [d for d in DEFINITIONS if d.name in names]
