"""Keep the daily rollup of people's earnings (`EarningDay`) from the ledger, off the submit path.

The rollup holds the entries of every ledger transaction with an id up to its mark
(`EarningDayMark.rolled_through_id`) and none after; the Earnings pages add a person's entries
after the mark (payments/selectors/earnings_pages.py, `PersonEarnings`), so they stay exact
whatever the rollup's lag. A beat job (`earning_days_roll`) moves the mark forward: each run
notes the highest transaction id there is, and a later run, once that is older than
QUORUM_EARNING_DAYS_SETTLE_MINUTES, adds the entries up to it. The wait is for transactions that
took a lower id and had not committed yet when the id was noted: the ledger's postings are short
(a submit, a batch of a close or a freeze), so a posting still open after the settling time is
the only thing the rollup could miss; `earning_days_rebuild` recomputes the rollup from the ledger
(the `earning_days_rebuild` command) should one ever be.

Adding is one statement per cell (an upsert that adds to what the cell holds), under the mark's
row lock, in the same transaction that moves the mark: running twice, or two runs at once, adds
nothing twice.

Before rolling, the ledger tables' planner statistics are refreshed when stale, and the rollup's
own after (core/table_statistics.py): the Earnings pages read both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from core.table_statistics import tables_analyze_stale
from payments.models import EarningDay, EarningDayMark, LedgerEntry, LedgerTransaction
from payments.selectors.earning_cells import (
    EARNING_DAYS_MARK,
    Cell,
    CellKey,
    ledger_earning_cells,
)

# Transaction ids rolled up per step (each step commits with the mark).
ROLL_STEP = 50_000

_CELL_ADD = (
    "INSERT INTO payments_earningday (user_id, day, project_id, currency, earned_micros, "
    "reversed_micros, pieces, bonus_micros) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT {target} DO UPDATE SET "
    "earned_micros = payments_earningday.earned_micros + excluded.earned_micros, "
    "reversed_micros = payments_earningday.reversed_micros + excluded.reversed_micros, "
    "pieces = payments_earningday.pieces + excluded.pieces, "
    "bonus_micros = payments_earningday.bonus_micros + excluded.bonus_micros"
)
# The conflict targets are the two partial unique constraints of EarningDay.
_WORK_CELL_ADD = _CELL_ADD.format(
    target="(user_id, day, project_id, currency) WHERE project_id IS NOT NULL"
)
_BONUS_CELL_ADD = _CELL_ADD.format(target="(user_id, day, currency) WHERE project_id IS NULL")


@dataclass(frozen=True)
class EarningDaysOutcome:
    rolled_through_id: int
    cells: int  # cells added to


def _mark_lock() -> EarningDayMark:
    EarningDayMark.objects.get_or_create(name=EARNING_DAYS_MARK)
    return EarningDayMark.objects.select_for_update().get(name=EARNING_DAYS_MARK)


def _cells_add(cells: dict[CellKey, Cell]) -> None:
    rows: dict[bool, list[tuple[Any, ...]]] = {True: [], False: []}
    for (user_id, day, project_id, currency), cell in cells.items():
        rows[project_id is not None].append(
            (
                user_id,
                connection.ops.adapt_datefield_value(day),
                project_id,
                currency,
                cell.earned_micros,
                cell.reversed_micros,
                cell.pieces,
                cell.bonus_micros,
            )
        )
    with connection.cursor() as cursor:
        for is_work, statement in ((True, _WORK_CELL_ADD), (False, _BONUS_CELL_ADD)):
            if rows[is_work]:
                cursor.executemany(statement, rows[is_work])


def _roll_step(mark: EarningDayMark, through: int) -> int:
    """Add the entries of transactions (mark, through] to the rollup and move the mark; the
    caller holds the mark's lock. Returns the cells added to."""
    cells = ledger_earning_cells(
        Q(transaction_id__gt=mark.rolled_through_id, transaction_id__lte=through)
    )
    _cells_add(cells)
    mark.rolled_through_id = through
    mark.save(update_fields=["rolled_through_id", "updated_at"])
    return len(cells)


def earning_days_roll_through(*, through_id: int, step: int = ROLL_STEP) -> EarningDaysOutcome:
    """Add to the rollup every ledger transaction up to `through_id` not in it yet, `step` ids
    per committed step. The caller vouches that no transaction up to `through_id` is still
    committing (the beat job waits the settling time for that)."""
    tables_analyze_stale(
        [LedgerTransaction, LedgerEntry], purpose="before the daily earnings rollup"
    )
    cells = 0
    while True:
        with transaction.atomic():
            mark = _mark_lock()
            if mark.rolled_through_id >= through_id:
                break
            cells += _roll_step(mark, min(through_id, mark.rolled_through_id + step))
    tables_analyze_stale(
        [EarningDay], purpose="after the daily earnings rollup", changed={EarningDay: cells}
    )
    return EarningDaysOutcome(mark.rolled_through_id, cells)


def earning_days_roll(*, now: datetime | None = None) -> EarningDaysOutcome:
    """The beat job: roll up to the transaction id the last run noted, once that is older than
    the settling time, then note the highest id there is now for a later run. Safe to run twice
    or at once."""
    now = now or timezone.now()
    settle = timedelta(minutes=int(settings.QUORUM_EARNING_DAYS_SETTLE_MINUTES))
    with transaction.atomic():
        mark = _mark_lock()
        due = mark.seen_id if mark.seen_at is not None and mark.seen_at <= now - settle else None
    outcome = earning_days_roll_through(through_id=due) if due is not None else None
    with transaction.atomic():
        mark = _mark_lock()
        if mark.seen_id is None or mark.seen_id <= mark.rolled_through_id:
            mark.seen_id = LedgerTransaction.objects.aggregate(top=Max("pk"))["top"] or 0
            mark.seen_at = now
            mark.save(update_fields=["seen_id", "seen_at", "updated_at"])
    return outcome or EarningDaysOutcome(mark.rolled_through_id, 0)


@transaction.atomic
def earning_days_rebuild() -> EarningDaysOutcome:
    """Recompute the rollup from the ledger up to its mark, in one transaction (the pages see
    the old rollup or the new one, never half of it). For repairs; the beat job never needs it."""
    mark = _mark_lock()
    through = mark.rolled_through_id
    EarningDay.objects.all().delete()
    mark.rolled_through_id = 0
    cells = 0
    while mark.rolled_through_id < through:
        cells += _roll_step(mark, min(through, mark.rolled_through_id + ROLL_STEP))
    return EarningDaysOutcome(mark.rolled_through_id, cells)
