"""What people earned per UTC day, project and currency, as the ledger says: the one definition
of "earned" that the Earnings pages, the statements and the incentive close read.

What accrual posts, and nothing else, is read as earnings:

- an accrual (`earning:accrue:...`) credits the person's pending account and debits the
  project's labour expense account: that expense leg names the project;
- its reversal (`reversal:<pk>` of an accrual) is the same legs negated;
- finalisation (`earning:final:...`) only moves pending to payable: it changes the balances,
  not what was earned;
- a bonus (`incentive:...`) credits payable against the bonus expense.

Whole UTC days come from the daily rollup (`EarningDay`, kept from the ledger by
payments/services/earning_days.py) plus the people's ledger entries after the rollup's mark;
the two never overlap (the mark is a transaction id), so the figures are the ledger's to the
micro-unit, and a busy person's month is a few rows per day instead of every entry. Bounds
inside a day are read from the ledger for that part of the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from django.db.models import BigIntegerField, Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from payments.models import AccountKind, EarningDay, EarningDayMark, LedgerEntry

ACCRUAL_PREFIX = "earning:accrue:"
BONUS_PREFIX = "incentive:"


def _accruals() -> Q:
    return Q(transaction__source_key__startswith=ACCRUAL_PREFIX)


def _accrual_reversals() -> Q:
    return Q(transaction__reverses__source_key__startswith=ACCRUAL_PREFIX)


EARNING_DAYS_MARK = "earning_days"


@dataclass
class Cell:
    """What a person earned on one UTC day in one project and currency (micro-units): accruals,
    their reversals (negative) and the pieces of work; or, in the cell with no project, bonuses."""

    earned_micros: int = 0
    reversed_micros: int = 0
    pieces: int = 0
    bonus_micros: int = 0

    @property
    def total_micros(self) -> int:
        return self.earned_micros + self.reversed_micros + self.bonus_micros

    def add(self, other: Cell) -> None:
        self.earned_micros += other.earned_micros
        self.reversed_micros += other.reversed_micros
        self.pieces += other.pieces
        self.bonus_micros += other.bonus_micros


# (person, day, project or None for bonuses, currency)
CellKey = tuple[int, date, int | None, str]


def ledger_earning_cells(scope: Q) -> dict[CellKey, Cell]:
    """From the ledger entries that match `scope` (a condition on LedgerEntry): per person, UTC
    day of posting, project and currency, the accruals to their pending account, the reversals
    of those, how many pieces (the transaction's labour expense leg names the project), and the
    bonuses credited to their payable account (project None). Two aggregate queries."""
    cells: dict[CellKey, Cell] = {}
    # The labour expense leg is joined in the same filter, so the values below read that leg
    # (one per accrual and per reversal), not a subquery per entry.
    work = (
        LedgerEntry.objects.filter(scope)
        .filter(_accruals() | _accrual_reversals(), account__kind=AccountKind.PENDING)
        .filter(transaction__entries__account__kind=AccountKind.LABOUR_EXPENSE_PROJECT)
        .annotate(
            day=TruncDate("transaction__posted_at", tzinfo=UTC),
            line_project=F("transaction__entries__account__project_id"),
        )
        .values("account__user_id", "day", "line_project", "account__currency")
        .annotate(
            earned=Coalesce(
                Sum("amount_micros", filter=_accruals()), Value(0), output_field=BigIntegerField()
            ),
            reversed=Coalesce(
                Sum("amount_micros", filter=_accrual_reversals()),
                Value(0),
                output_field=BigIntegerField(),
            ),
            pieces=Count("pk", filter=_accruals()),
        )
        .order_by()
    )
    for row in work:
        key = (row["account__user_id"], row["day"], row["line_project"], row["account__currency"])
        cells[key] = Cell(
            earned_micros=row["earned"], reversed_micros=row["reversed"], pieces=row["pieces"]
        )
    bonuses = (
        LedgerEntry.objects.filter(scope)
        .filter(
            account__kind=AccountKind.PAYABLE,
            transaction__source_key__startswith=BONUS_PREFIX,
        )
        .annotate(day=TruncDate("transaction__posted_at", tzinfo=UTC))
        .values("account__user_id", "day", "account__currency")
        .annotate(bonus=Sum("amount_micros"))
        .order_by()
    )
    for bonus in bonuses:
        key = (bonus["account__user_id"], bonus["day"], None, bonus["account__currency"])
        cells[key] = Cell(bonus_micros=bonus["bonus"])
    return cells


def earning_days_rolled_through() -> int:
    """The last ledger transaction id whose entries the daily rollup holds (0: none yet)."""
    found = (
        EarningDayMark.objects.filter(name=EARNING_DAYS_MARK)
        .values_list("rolled_through_id", flat=True)
        .first()
    )
    return found or 0


@dataclass(frozen=True)
class RollupDifference:
    """A cell of the daily rollup that differs from what the ledger's entries up to its mark
    say (absent on one side: zeros)."""

    key: CellKey
    rolled_up: Cell
    from_ledger: Cell


def earning_days_differences() -> list[RollupDifference]:
    """Compare every cell of the daily rollup with the ledger's entries up to the rollup's mark.

    A difference means a posting committed after the rollup took the ids around it (it stayed
    open longer than QUORUM_EARNING_DAYS_SETTLE_MINUTES) or a damaged rollup; `manage.py
    earning_days_rebuild` repairs either. Holds the mark's row lock while it reads (the beat job
    waits), so both sides are read at the same mark. Reads the whole ledger: for the daily
    reconciliation, not for pages. Call inside a transaction."""
    mark = EarningDayMark.objects.select_for_update().filter(name=EARNING_DAYS_MARK).first()
    through = mark.rolled_through_id if mark is not None else 0
    from_ledger = ledger_earning_cells(Q(transaction_id__lte=through)) if through else {}
    rolled = _rolled_up(None, None, None)
    return [
        RollupDifference(key, rolled.get(key, Cell()), from_ledger.get(key, Cell()))
        for key in sorted(rolled.keys() | from_ledger.keys(), key=_cell_order)
        if rolled.get(key, Cell()) != from_ledger.get(key, Cell())
    ]


def _cell_order(key: CellKey) -> tuple[int, date, int, str]:
    user_id, day, project_id, currency = key
    return user_id, day, project_id or 0, currency


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_from(moment: datetime) -> date:
    """The first whole UTC day at or after `moment`."""
    day = moment.date()
    return day if moment == _midnight(day) else day + timedelta(days=1)


def _whole_days(
    since: datetime | None, until: datetime | None
) -> tuple[date | None, date | None, list[tuple[datetime, datetime]]]:
    """[since, until) as whole UTC days [first, last) (None: open; first == last: none) and the
    moments of the partial days at its ends, as [start, end) pairs."""
    start = since.astimezone(UTC) if since is not None else None
    end = until.astimezone(UTC) if until is not None else None
    if start is not None and end is not None and _day_from(start) >= end.date():
        # Within a day, or two partial days that meet: the moments themselves, once.
        day = _day_from(start)
        return day, day, [(start, end)] if start < end else []
    parts: list[tuple[datetime, datetime]] = []
    if start is not None and start != _midnight(start.date()):
        parts.append((start, _midnight(_day_from(start))))
    if end is not None and end != _midnight(end.date()):
        parts.append((_midnight(end.date()), end))
    return (
        _day_from(start) if start is not None else None,
        end.date() if end is not None else None,
        parts,
    )


DayKey = tuple[date, int | None, str]  # (day, project or None for bonuses, currency)


def _rolled_up(
    user_ids: Sequence[int] | None, first: date | None, last: date | None
) -> dict[CellKey, Cell]:
    """The rollup's cells of the people (None: everyone) on the days [first, last) (None: open)."""
    days = EarningDay.objects.all()
    if user_ids is not None:
        days = days.filter(user_id__in=list(user_ids))
    if first is not None:
        days = days.filter(day__gte=first)
    if last is not None:
        days = days.filter(day__lt=last)
    return {
        (user_id, day, project_id, currency): Cell(*amounts)
        for user_id, day, project_id, currency, *amounts in days.values_list(
            "user_id",
            "day",
            "project_id",
            "currency",
            "earned_micros",
            "reversed_micros",
            "pieces",
            "bonus_micros",
        )
    }


def _cells_add(found: dict[CellKey, Cell], cells: dict[CellKey, Cell]) -> None:
    for key, cell in cells.items():
        found.setdefault(key, Cell()).add(cell)


def _in_days(day: date, first: date | None, last: date | None) -> bool:
    return (first is None or day >= first) and (last is None or day < last)


def earning_cells(
    user_ids: Sequence[int], *, since: datetime | None = None, until: datetime | None = None
) -> dict[CellKey, Cell]:
    """The cells of what was posted in [since, until) for these people (a batch of a close):
    the rollup's whole days, their ledger entries after its mark, partial days from the ledger.
    Exact; at most seven queries however many people and entries."""
    ids = list(user_ids)
    first, last, parts = _whole_days(since, until)
    found: dict[CellKey, Cell] = {}
    if first is None or last is None or first < last:
        _cells_add(found, _rolled_up(ids, first, last))
        newer = Q(account__user_id__in=ids, transaction_id__gt=earning_days_rolled_through())
        if first is not None:
            newer &= Q(transaction__posted_at__gte=_midnight(first))
        if last is not None:
            newer &= Q(transaction__posted_at__lt=_midnight(last))
        _cells_add(found, ledger_earning_cells(newer))
    for start, end in parts:
        _cells_add(
            found,
            ledger_earning_cells(
                Q(
                    account__user_id__in=ids,
                    transaction__posted_at__gte=start,
                    transaction__posted_at__lt=end,
                )
            ),
        )
    return found


class PersonEarnings:
    """One person's cells as a page reads them: like `earning_cells`, with the person's entries
    after the rollup's mark read once however many figures the page asks of it."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id

    @cached_property
    def newer(self) -> dict[DayKey, Cell]:
        """The person's cells of the ledger entries after the rollup's mark (two queries)."""
        scope = Q(account__user_id=self.user_id, transaction_id__gt=earning_days_rolled_through())
        return {
            (day, project_id, currency): cell
            for (_, day, project_id, currency), cell in ledger_earning_cells(scope).items()
        }

    def cells(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[DayKey, Cell]:
        """The person's cells (day, project or None for bonuses, currency) of what was posted
        in [since, until)."""
        first, last, parts = _whole_days(since, until)
        found: dict[CellKey, Cell] = {}
        if first is None or last is None or first < last:
            _cells_add(found, _rolled_up([self.user_id], first, last))
            _cells_add(
                found,
                {
                    (self.user_id, *key): cell
                    for key, cell in self.newer.items()
                    if _in_days(key[0], first, last)
                },
            )
        for start, end in parts:
            _cells_add(
                found,
                ledger_earning_cells(
                    Q(
                        account__user_id=self.user_id,
                        transaction__posted_at__gte=start,
                        transaction__posted_at__lt=end,
                    )
                ),
            )
        return {
            (day, project, currency): cell for (_, day, project, currency), cell in found.items()
        }

    def months(self) -> set[str]:
        """The months ("YYYY-MM") with anything earned or a bonus."""
        months = {
            f"{month:%Y-%m}"
            for month in EarningDay.objects.filter(user_id=self.user_id).dates("day", "month")
        }
        return months | {f"{day:%Y-%m}" for day, _, _ in self.newer}
