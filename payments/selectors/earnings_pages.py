"""A person's earnings as the ledger tells them: the summary (today, this week, pending, payable,
in transit, paid), a line per day and project, bonuses, and statements per month.

Only the ledger is read (plus the bonus lines that explain bonuses), through the one definition
of what was earned in payments/selectors/earning_cells.py (the daily rollup plus the entries
after its mark: exact to the micro-unit). Every read here is an aggregate (a fixed number of
queries however many lines a person has), so the pages and the API do not grow in queries with
the history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accounts.models import User
from accounts.policy import Action, can
from kit.money import Micros, Minor, format_micros, format_minor
from labeling.models import Project
from labeling.models.projects import ProjectPurpose
from payments.models import AccountKind, IncentiveBonusLine, LedgerAccount
from payments.selectors.earning_cells import PersonEarnings
from payments.selectors.incentives import incentive_lines_of


def earnings_person_visible_to(viewer: Any, person_id: int) -> User | None:
    """The person whose earnings `viewer` may read: themselves, or anyone for finance; None for
    anyone else (their pages and API answer "not found", with no hint that the person exists)."""
    if not getattr(viewer, "is_authenticated", False):
        return None
    if viewer.pk != person_id and not can(viewer, Action.LEDGER_VIEW):
        return None
    return User.objects.filter(pk=person_id).first()


MONTH = re.compile(r"^(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])$")


def month_bounds(text: str) -> tuple[datetime, datetime] | None:
    """ "2026-11" as [start, end) of that month, UTC; None for anything else."""
    found = MONTH.match(text)
    if found is None or int(found["year"]) < 2000:
        return None
    start = datetime(int(found["year"]), int(found["month"]), 1, tzinfo=UTC)
    end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


# --- The summary -----------------------------------------------------------------------------


@dataclass
class Summary:
    """One currency's figures of a person (micro-units; pending may hold sub-cent remainders)."""

    currency: str
    today_micros: int = 0
    week_micros: int = 0
    pending_micros: int = 0
    payable_micros: int = 0
    in_transit_micros: int = 0
    paid_micros: int = 0

    def shown(self, name: str) -> str:
        return format_micros(Micros(getattr(self, f"{name}_micros"), self.currency))

    @property
    def today(self) -> str:
        return self.shown("today")

    @property
    def week(self) -> str:
        return self.shown("week")

    @property
    def pending(self) -> str:
        return self.shown("pending")

    @property
    def payable(self) -> str:
        return self.shown("payable")

    @property
    def in_transit(self) -> str:
        return self.shown("in_transit")

    @property
    def paid(self) -> str:
        return self.shown("paid")


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def earnings_summary(
    user_id: int, *, now: datetime, earnings: PersonEarnings | None = None
) -> list[Summary]:
    """Per currency: earned today and this ISO week (accruals less their reversals, plus
    bonuses, UTC), and the balances of pending, payable, in transit and paid. `earnings`: the
    person's reader when a page asks it for more (it reads their newest entries once)."""
    today = day_start(now)
    week = today - timedelta(days=today.weekday())
    found: dict[str, Summary] = {}

    def of(currency: str) -> Summary:
        return found.setdefault(currency, Summary(currency))

    kinds = {
        AccountKind.PENDING: "pending_micros",
        AccountKind.PAYABLE: "payable_micros",
        AccountKind.IN_TRANSIT: "in_transit_micros",
        AccountKind.PAID: "paid_micros",
    }
    for kind, currency, balance in LedgerAccount.objects.filter(
        user_id=user_id, kind__in=list(kinds)
    ).values_list("kind", "currency", "balance_micros"):
        setattr(of(currency), kinds[AccountKind(kind)], balance)
    earnings = earnings or PersonEarnings(user_id)
    for (day, _, currency), cell in earnings.cells(since=week).items():
        summary = of(currency)
        summary.week_micros += cell.total_micros
        if day >= today.date():
            summary.today_micros += cell.total_micros
    return sorted(found.values(), key=lambda s: s.currency)


# --- Lines per day and project ---------------------------------------------------------------


@dataclass(frozen=True)
class DayLine:
    """What a person earned on one day (UTC) in one project, in one currency."""

    day: date
    project_id: int | None
    project_name: str
    currency: str
    earned_micros: int
    reversed_micros: int
    pieces: int
    title: str = ""  # what the line is, for people (`line_title`); the project's name for work

    @property
    def net_micros(self) -> int:
        return self.earned_micros + self.reversed_micros

    @property
    def earned(self) -> str:
        return format_micros(Micros(self.earned_micros, self.currency))

    @property
    def reversed(self) -> str:
        return format_micros(Micros(self.reversed_micros, self.currency))

    @property
    def net(self) -> str:
        return format_micros(Micros(self.net_micros, self.currency))


CHECK_TITLES = {
    ProjectPurpose.TRAINING.value: "Training module",
    ProjectPurpose.TEST.value: "Qualification test",
}


def line_title(*, project_name: str, purpose: str, check_name: str | None) -> str:
    """What a day line is, for people: the project's name for production work; training and test
    time says which module or test, in which project."""
    kind = CHECK_TITLES.get(purpose)
    if kind is None:
        return project_name
    named = f"{kind} {check_name}" if check_name else kind
    return f"{named} in {project_name}"


def earnings_day_lines(
    user_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    earnings: PersonEarnings | None = None,
) -> list[DayLine]:
    """A line per day, project and currency (newest day first) of the work posted in
    [since, until): what accruals earned and their reversals took back."""
    earnings = earnings or PersonEarnings(user_id)
    cells = [
        (key, cell)
        for key, cell in earnings.cells(since=since, until=until).items()
        if key[1] is not None
    ]
    cells.sort(key=lambda item: (-item[0][0].toordinal(), item[0][1], item[0][2]))
    projects: dict[int | None, tuple[str, str, str | None]] = {
        pk: (name, purpose, check_name)
        for pk, name, purpose, check_name in Project.objects.filter(
            pk__in={project for (_, project, _), _ in cells}
        ).values_list("pk", "name", "purpose", "skill_check__name")
    }
    lines = []
    for (day, project_id, currency), cell in cells:
        name, purpose, check_name = projects.get(
            project_id, ("(no project)", ProjectPurpose.WORK.value, None)
        )
        lines.append(
            DayLine(
                day=day,
                project_id=project_id,
                project_name=name,
                currency=currency,
                earned_micros=cell.earned_micros,
                reversed_micros=cell.reversed_micros,
                pieces=cell.pieces,
                title=line_title(project_name=name, purpose=purpose, check_name=check_name),
            )
        )
    return lines


# --- Bonuses ---------------------------------------------------------------------------------


def percent_text(ppm_value: int | None) -> str:
    """Parts per million as a percentage with two decimals ("95.00%"), exact."""
    if ppm_value is None:
        return "none yet"
    whole, rest = divmod(ppm_value, 10_000)
    return f"{whole}.{rest // 100:02d}%"


def _count(value: int | None) -> str:
    return "none" if value is None else f"{value:,}"


def check_text(check: dict[str, Any]) -> str:
    """One threshold of a bonus line as a person reads it (from the line's stored figures)."""
    shown = percent_text if str(check["threshold"]).endswith("_ppm") else _count
    mark = "≥" if check["met"] else "<"
    return f"{check['label']}: {shown(check['actual'])} {mark} {shown(check['required'])}"


def bonus_reason(line: IncentiveBonusLine) -> str:
    """Why a bonus line pays what it pays, in one sentence."""
    checks = "; ".join(check_text(c) for c in line.figures.get("checks", []))
    currency = line.figures.get("currency") or line.period.program.currency
    if line.tier is None:
        return f"No tier met ({checks})."
    text = f"Tier {line.tier} met ({checks})"
    if line.capped_minor < line.computed_minor:
        text += f"; capped at {format_minor(Minor(line.capped_minor, currency))}"
    if line.amount_minor is not None and line.amount_minor < line.capped_minor:
        text += "; scaled to the program's budget"
    return text + "."


@dataclass(frozen=True)
class BonusRow:
    line: IncentiveBonusLine
    reason: str
    currency: str

    @property
    def amount(self) -> str:
        return format_minor(Minor(self.line.amount_minor or 0, self.currency))


def bonus_rows(lines: Iterable[IncentiveBonusLine]) -> list[BonusRow]:
    return [BonusRow(line, bonus_reason(line), line.period.program.currency) for line in lines]


def earnings_bonus_rows(
    user_id: int, *, since: datetime | None = None, until: datetime | None = None
) -> list[BonusRow]:
    """The person's bonus lines of closed periods (those that ended in [since, until)), with
    their reasons; one query."""
    lines = incentive_lines_of(user_id)
    if since is not None:
        lines = lines.filter(period__ends_at__gte=since)
    if until is not None:
        lines = lines.filter(period__ends_at__lt=until)
    return bonus_rows(lines)


# --- Statements ------------------------------------------------------------------------------


@dataclass
class StatementTotal:
    currency: str
    earned_micros: int = 0
    reversed_micros: int = 0
    bonus_micros: int = 0

    @property
    def total_micros(self) -> int:
        return self.earned_micros + self.reversed_micros + self.bonus_micros

    def shown(self, name: str) -> str:
        return format_micros(Micros(getattr(self, f"{name}_micros"), self.currency))

    @property
    def earned(self) -> str:
        return self.shown("earned")

    @property
    def reversed(self) -> str:
        return self.shown("reversed")

    @property
    def bonus(self) -> str:
        return self.shown("bonus")

    @property
    def total(self) -> str:
        return self.shown("total")


@dataclass
class Statement:
    """A person's month (UTC): the day lines, the bonuses posted in it, totals per currency."""

    user_id: int
    month: str
    starts_at: datetime
    ends_at: datetime
    lines: list[DayLine]
    bonuses: list[BonusRow]
    totals: list[StatementTotal] = field(default_factory=list)


def earnings_statement(user_id: int, *, month: str) -> Statement | None:
    """The statement of `month` ("YYYY-MM"), or None for text that is not a month. Its totals
    are the sums of the person's ledger entries: accruals, their reversals, and the bonuses
    posted in the month (a bonus is posted at its period's end)."""
    bounds = month_bounds(month)
    if bounds is None:
        return None
    starts, ends = bounds
    lines = list(reversed(earnings_day_lines(user_id, since=starts, until=ends)))
    bonuses = earnings_bonus_rows(user_id, since=starts, until=ends)
    totals: dict[str, StatementTotal] = {}
    for line in lines:
        total = totals.setdefault(line.currency, StatementTotal(line.currency))
        total.earned_micros += line.earned_micros
        total.reversed_micros += line.reversed_micros
    for bonus in bonuses:
        if bonus.line.amount_minor:
            total = totals.setdefault(bonus.currency, StatementTotal(bonus.currency))
            total.bonus_micros += Minor(bonus.line.amount_minor, bonus.currency).to_micros().amount
    return Statement(
        user_id=user_id,
        month=month,
        starts_at=starts,
        ends_at=ends,
        lines=lines,
        bonuses=bonuses,
        totals=sorted(totals.values(), key=lambda t: t.currency),
    )


def earnings_statement_months(user_id: int, *, earnings: PersonEarnings | None = None) -> list[str]:
    """The months ("YYYY-MM", newest first) in which the person earned or got a bonus."""
    return sorted((earnings or PersonEarnings(user_id)).months(), reverse=True)


def _text_cell(text: str) -> str:
    """Free text (a project's or program's name, a reason) made inert for spreadsheets: a cell
    starting with =, +, - or @ would be read as a formula, so it gets a leading apostrophe."""
    return f"'{text}" if text[:1] in {"=", "+", "-", "@"} else text


def statement_csv_rows(statement: Statement) -> list[list[str]]:
    """The statement as CSV rows: a header, the day lines, the bonuses, and a total per currency.
    Amounts are exact decimal text (and the integer micro-units beside them)."""
    rows = [
        [
            "kind",
            "date",
            "project_or_program",
            "currency",
            "earned",
            "reversed",
            "bonus",
            "total",
            "total_micros",
            "detail",
        ]
    ]

    def money(micros: int, currency: str) -> str:
        return format_micros(Micros(micros, currency), with_code=False)

    for line in statement.lines:
        rows.append(
            [
                "work",
                f"{line.day:%Y-%m-%d}",
                _text_cell(line.title),
                line.currency,
                money(line.earned_micros, line.currency),
                money(line.reversed_micros, line.currency),
                "",
                money(line.net_micros, line.currency),
                str(line.net_micros),
                f"{line.pieces} pieces of work",
            ]
        )
    for bonus in statement.bonuses:
        micros = Minor(bonus.line.amount_minor or 0, bonus.currency).to_micros().amount
        rows.append(
            [
                "bonus",
                f"{bonus.line.period.ends_at:%Y-%m-%d}",
                _text_cell(bonus.line.period.program.name),
                bonus.currency,
                "",
                "",
                money(micros, bonus.currency),
                money(micros, bonus.currency),
                str(micros),
                _text_cell(bonus.reason),
            ]
        )
    for total in statement.totals:
        rows.append(
            [
                "total",
                statement.month,
                "",
                total.currency,
                money(total.earned_micros, total.currency),
                money(total.reversed_micros, total.currency),
                money(total.bonus_micros, total.currency),
                money(total.total_micros, total.currency),
                str(total.total_micros),
                "",
            ]
        )
    return rows
