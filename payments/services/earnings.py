"""Earnings: pricing work as labeling announces it, making it payable, and clawing it back.

Called by payments/handlers.py inside the transaction of labeling's state change (submit, verdict,
discount), so an earning commits or rolls back with the work. docs/earnings.md explains the same
to annotators and finance.

Ledger shapes (the earnings page reads the ledger alone, so they stay exactly these):
- accrual: the person's PENDING +X, the project's LABOUR_EXPENSE_PROJECT -X, source key
  `earning:accrue:annotation:<id>`, `earning:accrue:review:<id>`, or for active time
  `earning:accrue:hour:<earning pk>:<annotation|review>:<id>` (one increment per submission);
- finalise: PENDING -> PAYABLE of whole minor units, key `earning:final:<earning pk>`. Sub-minor
  micros of finalised earnings stay in pending as the person's remainder (EarningRemainder,
  0 <= remainder < one minor unit) and join the next finalised earning: finalising one earning
  never moves the micros of another that is still pending;
- reversal: `ledger_reverse` of the accrual(s), and of the move to payable when there was one
  (a clawback from payable, which may take payable below zero: owed); then, when the remainder
  left its range, one settling move `earning:final:settle:<earning pk>` (PENDING <-> PAYABLE,
  whole minor units) brings it back, so payable always equals the whole minor units of the
  person's payable earnings.

Lock order (adds to payments/lock_objects.py's): earnings rows (ascending pk; a task's are also
serialised by labeling's task lock), then the person's pending and payable accounts with their
remainder (`person_pay_lock`), then the ledger's (source key; the person accounts again, already
held). Nothing here locks or updates a row shared by a project.

Round trips (the submit path's cost): on PostgreSQL a per-task accrual is two statements (the
pricing read, then the posting with the earning's row) and a task's move to payable two (the
task's earnings with their hold checks and their people's pay locked, then the posting with the
remainder and the earning's status, per earning); elsewhere the writes go one statement each.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import Conflict, ValidationFailed
from core.statements import model_built
from kit.money import Micros, micros_per_minor
from labeling.models import Project
from payments.lock_objects import PersonPayLocked, person_pay_lock
from payments.models import (
    CHECK_WORK_KINDS,
    AccountKind,
    Earning,
    EarningRemainder,
    EarningStatus,
    Hold,
    LedgerAccount,
    LedgerTransaction,
    RateUnit,
    WorkKind,
)
from payments.selectors.earnings import (
    earning_get_for_update,
    earning_of_source,
    earnings_to_finalise_with_hold_causes,
    pricing_to_finalise,
    rate_for_work,
    with_project_name,
    work_kind_of,
)
from payments.selectors.holds import hold_cause_of, with_hold_causes
from payments.selectors.rates import PricingContext, pricing_context
from payments.services.ledger import (
    AlsoWrite,
    Leg,
    Posting,
    ledger_account_get_or_create,
    ledger_account_key,
    ledger_post,
    ledger_post_then,
    ledger_reverse,
    ledger_writes_run,
)

SECONDS_PER_HOUR = 3600
REASON_MAX = 500


class SettledSubmissions(threading.local):
    """Submissions (task, moment) of this thread whose `work_final` (same task, same moment) has
    nothing to do: the project had no rate card in force (a card in force is never withdrawn or
    deleted, so a project unpriced now had no priced work before), or the submission's accrual
    made its work payable and the task had no other pending earning (read under the locks of
    the task and its earnings). Only a hint for the hot path, and the set is bounded: the
    submission's own accrual forgets its entry first, so one left by a rolled-back attempt never
    speaks for the attempt that runs again with the same moment."""

    LIMIT = 1000

    def __init__(self) -> None:
        self.seen: set[tuple[int, datetime]] = set()

    def remember(self, *, task_id: int, at: datetime) -> None:
        if len(self.seen) >= self.LIMIT:
            self.seen.clear()
        self.seen.add((task_id, at))

    def forget(self, *, task_id: int, at: datetime) -> None:
        self.seen.discard((task_id, at))

    def take(self, *, task_id: int, at: datetime) -> bool:
        try:
            self.seen.remove((task_id, at))
        except KeyError:
            return False
        return True


settled_submissions = SettledSubmissions()


# --- Accounts -------------------------------------------------------------------------------------


def _accounts(
    *, user_id: int, currency: str, kinds: Iterable[str], project: Project | None = None
) -> dict[str, LedgerAccount]:
    """The person's accounts of `kinds` (and the project's labour expense when `project` is
    given) in `currency`, read in one query and opened the first time."""
    wanted = {
        kind: ledger_account_key(kind=kind, currency=currency, user_id=user_id) for kind in kinds
    }
    if project is not None:
        wanted[AccountKind.LABOUR_EXPENSE_PROJECT] = ledger_account_key(
            kind=AccountKind.LABOUR_EXPENSE_PROJECT, currency=currency, project_id=project.pk
        )
    found = {a.key: a for a in LedgerAccount.objects.filter(key__in=list(wanted.values()))}
    accounts: dict[str, LedgerAccount] = {}
    for kind, key in wanted.items():
        account = found.get(key)
        if account is None:
            is_project = kind == AccountKind.LABOUR_EXPENSE_PROJECT
            account = ledger_account_get_or_create(
                kind=kind,
                currency=currency,
                user=None if is_project else User(pk=user_id),
                project=project if is_project else None,
            )
        accounts[kind] = account
    return accounts


def _person_pay_locked(*, user_id: int, currency: str) -> PersonPayLocked:
    """Lock the person's pending and payable accounts in `currency` and their earning remainder
    (`person_pay_lock`, one statement), opening whichever is missing first (once per person and
    currency)."""
    locked = person_pay_lock(user_id=user_id, currency=currency)
    if locked is None:
        _accounts(
            user_id=user_id, currency=currency, kinds=(AccountKind.PENDING, AccountKind.PAYABLE)
        )
        EarningRemainder.objects.get_or_create(user_id=user_id, currency=currency)
        locked = person_pay_lock(user_id=user_id, currency=currency)
        if locked is None:  # pragma: no cover (all three exist now and are never deleted)
            raise AssertionError(f"pay accounts of user {user_id} in {currency} missing")
    return locked


# --- Accrual --------------------------------------------------------------------------------------


def _what(work_kind: str, review_level: int) -> str:
    if work_kind in CHECK_WORK_KINDS:
        return f"{WorkKind(work_kind).label} answer"
    return f"Review (level {review_level})" if work_kind == WorkKind.REVIEW else "Annotation"


def _memo(earning: Earning, project_name: str) -> str:
    if earning.unit == RateUnit.PER_HOUR:
        what = f"Active time ({earning.work_kind}) in {project_name} on {earning.earned_on}"
    else:
        what = f"{_what(earning.work_kind, earning.review_level)} of task {earning.task_id} in "
        what += project_name
    return what[:REASON_MAX]


@functools.lru_cache(maxsize=1024)
def _accrual_accounts(
    *, user_id: int, project_id: int, currency: str, pending_id: int, labour_id: int
) -> tuple[LedgerAccount, LedgerAccount]:
    """The person's pending and the project's labour expense accounts of these ids, as a posting
    reads them (id, kind, currency, key). Made once per process for the same ids: accounts are
    never deleted nor change those four, and postings only read them."""
    pending = LedgerAccount(
        pk=pending_id,
        kind=AccountKind.PENDING,
        currency=currency,
        key=ledger_account_key(kind=AccountKind.PENDING, currency=currency, user_id=user_id),
    )
    labour = LedgerAccount(
        pk=labour_id,
        kind=AccountKind.LABOUR_EXPENSE_PROJECT,
        currency=currency,
        key=ledger_account_key(
            kind=AccountKind.LABOUR_EXPENSE_PROJECT, currency=currency, project_id=project_id
        ),
    )
    return pending, labour


def _accrual_legs(
    *, user_id: int, project: Project, amount: Micros, known: tuple[int | None, int | None]
) -> list[Leg]:
    """The accrual's two legs: the person's PENDING +amount, the project's labour expense
    -amount. `known`: the two accounts' ids when the pricing read found them (no query); else
    they are read, and opened the first time."""
    pending_id, labour_id = known
    if pending_id is not None and labour_id is not None:
        pending, labour = _accrual_accounts(
            user_id=user_id,
            project_id=project.pk,
            currency=amount.currency,
            pending_id=pending_id,
            labour_id=labour_id,
        )
    else:
        accounts = _accounts(
            user_id=user_id, currency=amount.currency, kinds=[AccountKind.PENDING], project=project
        )
        pending = accounts[AccountKind.PENDING]
        labour = accounts[AccountKind.LABOUR_EXPENSE_PROJECT]
    return [Leg(account=pending, amount=amount), Leg(account=labour, amount=-amount)]


def _post_accrual(
    *,
    source_key: str,
    user_id: int,
    project: Project,
    amount: Micros,
    memo: str,
    at: datetime,
    known: tuple[int | None, int | None] = (None, None),
    also: list[AlsoWrite] | None = None,
) -> LedgerTransaction:
    return ledger_post(
        source_key=source_key,
        legs=_accrual_legs(user_id=user_id, project=project, amount=amount, known=known),
        actor=None,
        memo=memo[:REASON_MAX],
        at=at,
        audited=False,  # the earning and its transaction are the record (ledger_post)
        also=also or (),
    )


@dataclass(frozen=True)
class _EarningInsert:
    sql: str
    fields: tuple[Any, ...]  # the fields given as parameters, in the statement's order
    types: dict[str, str]
    # How each of `fields` turns its value into the parameter, as `get_db_prep_save` does.
    preps: tuple[Callable[[Any], Any], ...]


def _plain(value: Any) -> Any:
    """A column value the driver takes as it is (choices arrive as their enum members)."""
    return value.value if isinstance(value, Enum) else value


# Fields whose `get_db_prep_save` leaves a value of the field's own Python type as it is, apart
# from a choice's enum member (`_plain`); the others' preparation is called.
_PLAIN_PREP = frozenset(
    {
        "BigIntegerField",
        "CharField",
        "ForeignKey",
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "TextField",
    }
)


def _prep_of(field: Any) -> Callable[[Any], Any]:
    kind = field.get_internal_type()
    if kind == "DateField":
        return lambda value: connection.ops.adapt_datefield_value(value)
    if kind == "DateTimeField":
        return lambda value: connection.ops.adapt_datetimefield_value(value)
    if kind in _PLAIN_PREP:
        return _plain
    return functools.partial(field.get_db_prep_save, connection=connection)


# The earning's insert statements, built once per database vendor and form (they run in every
# submit): a pending earning (`accrued_by` is the posting `tx`), or one payable with its accrual
# (its id drawn by the pricing read; `finalised_by` the second posting `tx_then` when whole
# minor units moved, else none).
_earning_inserts: dict[tuple[str, str], _EarningInsert] = {}
PENDING_FORM, PAYABLE_FORM, PAYABLE_MOVED_FORM = "pending", "payable", "payable-moved"


def _earning_insert_shape(form: str = PENDING_FORM) -> _EarningInsert:
    shape = _earning_inserts.get((connection.vendor, form))
    if shape is None:
        columns, values, fields, types = [], [], [], {}
        relations = "tx, tx_then" if form == PAYABLE_MOVED_FORM else "tx"
        for field in Earning._meta.concrete_fields:
            if field.primary_key and form == PENDING_FORM:
                continue
            columns.append(connection.ops.quote_name(str(field.column)))
            if field.attname == "accrued_by_id":
                values.append("tx.id")
                continue
            if field.attname == "finalised_by_id" and form == PAYABLE_MOVED_FORM:
                values.append("tx_then.id")
                continue
            fields.append(field)
            types[field.attname] = str(field.db_type(connection))
            values.append(f"%({field.attname})s")
        shape = _EarningInsert(
            sql=f"INSERT INTO {Earning._meta.db_table} ({', '.join(columns)}) "  # noqa: S608  (the model's own columns)
            f"SELECT {', '.join(values)} FROM {relations} WHERE true ON CONFLICT DO NOTHING",
            fields=tuple(fields),
            types=types,
            preps=tuple(_prep_of(field) for field in fields),
        )
        _earning_inserts[(connection.vendor, form)] = shape
    return shape


def _earning_insert(earning: Earning, form: str = PENDING_FORM) -> AlsoWrite:
    """The earning's row, inserted with its accrual (`accrued_by` is the posting) and only with
    it; a repeat of the same work inserts nothing. (`WHERE true`: SQLite reads ON CONFLICT after
    a SELECT without WHERE as part of a join.) `form`: see `_earning_inserts`."""
    shape = _earning_insert_shape(form)
    values = earning.__dict__  # each concrete field's value under its attname
    params = {
        field.attname: prep(values[field.attname])
        for field, prep in zip(shape.fields, shape.preps, strict=True)
    }
    return AlsoWrite(sql=shape.sql, params=params, types=shape.types)


@transaction.atomic(savepoint=False)
def earning_accrue(
    *,
    user_id: int,
    project_id: int,
    task_id: int,
    annotation_id: int | None,
    review_id: int | None,
    review_level: int | None,
    kind: str,
    active_seconds: int,
    submitted_at: datetime,
    completes_task: bool = False,
) -> Earning | None:
    """Price handed-in work (an annotation, or a review verdict at its level) as pending pay:
    per final task, one earning per annotation or review; per active hour, the day's earning of
    the person on the project grows by this submission's seconds. Return the earning (a per-task
    one without its id), or None when no rate prices the work (nothing accrues, nothing is
    raised). Repeating it changes nothing. Locks: the day's earning row (per hour), then the
    ledger's. Runs in the caller's transaction without a savepoint of its own (the hot path):
    on PostgreSQL a per-task accrual is two statements, the pricing read (`pricing_context`)
    and the posting with the earning's row.

    `completes_task`: the submission made its task final (its `work_final` follows). On
    PostgreSQL the pricing read then also locks the task's pending earnings and the pay
    (`pricing_to_finalise`); when the task has no other pending earning and nothing holds the
    work, the earning is recorded payable with its accrual and its move to payable, in the one
    posting statement, and the task's `work_final` has nothing left to do. The ledger and the
    earning end exactly as the accrual followed by `earnings_finalise_task` leaves them."""
    work_kind = work_kind_of(kind)
    source = f"review:{review_id}" if review_id is not None else f"annotation:{annotation_id}"
    settled_submissions.forget(task_id=task_id, at=submitted_at)
    if review_id is None and annotation_id is None:
        return None
    if completes_task and connection.vendor == "postgresql":
        context = pricing_to_finalise(
            project_id=project_id,
            user_id=user_id,
            work_kind=work_kind,
            at=submitted_at,
            task_id=task_id,
        )
    else:
        context = pricing_context(
            project_id=project_id, user_id=user_id, work_kind=work_kind, at=submitted_at
        )
    if context is None:
        # No card has ever been in force for this project (one in force never goes away), so
        # none of its work earned: the task's work_final in this submission has nothing to do.
        settled_submissions.remember(task_id=task_id, at=submitted_at)
        return None
    level = int(review_level or 0) if work_kind == WorkKind.REVIEW else 0
    return _accrue_priced(
        context=context,
        user_id=user_id,
        work_kind=work_kind,
        level=level,
        source=source,
        active_seconds=active_seconds,
        at=submitted_at,
        work={
            "task_id": task_id,
            "annotation_id": annotation_id if review_id is None else None,
            "review_id": review_id,
        },
    )


_EARNING_RATE_VERSION = Earning._meta.get_field("rate_version")
_EARNING_RATE = Earning._meta.get_field("rate")


def _accrue_priced(
    *,
    context: PricingContext,
    user_id: int,
    work_kind: str,
    level: int,
    source: str,
    active_seconds: int,
    at: datetime,
    work: dict[str, Any],
) -> Earning | None:
    """Accrue work priced by `context` as pending pay: the rate that fits it (None: nothing
    accrues); per active hour, the day's earning grows by `active_seconds`; per task, one earning
    (`work`: the ids of the work it is for) and its accrual under `earning:accrue:<source>`, in
    one posting. Return the earning (a per-task one without its id)."""
    project = context.project
    match = rate_for_work(
        project=project,
        version=context.version,
        # The person by id alone (their other fields deferred: read only if asked for).
        user=User.from_db(None, ["id"], [user_id]),
        work_kind=work_kind,
        review_level=level,
        rates=context.rates,
    )
    if match is None:
        return None
    if match.unit == RateUnit.PER_HOUR:
        return _accrue_hours(
            user_id=user_id,
            project=project,
            match=match,
            work_kind=work_kind,
            level=level,
            source=source,
            active_seconds=active_seconds,
            at=at,
        )
    earning = model_built(
        Earning,
        user_id=user_id,
        project_id=project.pk,
        work_kind=work_kind,
        review_level=level,
        unit=RateUnit.PER_TASK,
        earned_on=timezone.localdate(at),
        active_seconds=active_seconds,
        currency=match.amount.currency,
        amount_micros=match.amount.amount,
        rate_version_id=match.version.pk,
        rate_id=match.rate.pk,
        created_at=at,
        **work,
    )
    _EARNING_RATE_VERSION.set_cached_value(earning, match.version)
    _EARNING_RATE.set_cached_value(earning, match.rate)
    accrual = Posting(
        source_key=f"earning:accrue:{source}",
        legs=_accrual_legs(
            user_id=user_id,
            project=project,
            amount=match.amount,
            known=(context.pending_account_id, context.labour_account_id),
        ),
        memo=_memo(earning, project.name)[:REASON_MAX],
    )
    finalising = context.finalising
    if (
        finalising is not None
        and finalising.pay is not None
        and finalising.hold is None
        and not finalising.others_pending
    ):
        earning.pk = finalising.earning_id
        _accrue_payable(earning=earning, accrual=accrual, pay=finalising.pay, at=at)
        settled_submissions.remember(task_id=work["task_id"], at=at)
        return earning
    # A repeat of the same event finds its accrual posted and its earning recorded: neither is
    # written again (no read first, on the hot path).
    earning.accrued_by = _system_post(accrual, at=at, also=[_earning_insert(earning)])
    return earning


def _system_post(posting: Posting, *, at: datetime, also: list[AlsoWrite]) -> LedgerTransaction:
    return ledger_post(
        source_key=posting.source_key,
        legs=posting.legs,
        actor=None,
        memo=posting.memo,
        at=at,
        audited=False,  # the earning and its transaction are the record (ledger_post)
        also=also,
    )


def _accrue_payable(
    *, earning: Earning, accrual: Posting, pay: PersonPayLocked, at: datetime
) -> None:
    """A per-task earning (with the id drawn for it) of work that made its task final, nothing
    holding it and no other earning of the task pending: its `accrual`, the earning recorded
    payable, and (when whole minor units move) its move to payable, in one posting statement;
    `pay` is the person's pay as the pricing read locked it. The same transactions, keys, memos,
    balances and remainder as the accrual followed by `earnings_finalise_task`
    (`_make_payable`)."""
    earning.status, earning.finalised_at = EarningStatus.PAYABLE, at
    whole, remainder = _remainder_split(pay, earning.amount_micros, earning.currency)
    writes = _remainder_writes(pay, remainder)
    if whole == 0:
        also = [_earning_insert(earning, PAYABLE_FORM), *writes]
        earning.accrued_by = _system_post(accrual, at=at, also=also)
        return
    moved = Micros(whole, earning.currency)
    earning.accrued_by, earning.finalised_by = ledger_post_then(
        first=accrual,
        then=Posting(
            source_key=f"earning:final:{earning.pk}",
            legs=[Leg(account=pay.pending, amount=-moved), Leg(account=pay.payable, amount=moved)],
            memo=f"Payable: {accrual.memo}"[:REASON_MAX],
        ),
        at=at,
        also=[_earning_insert(earning, PAYABLE_MOVED_FORM), *writes],
    )


def _remainder_split(locked: PersonPayLocked, micros: int, currency: str) -> tuple[int, int]:
    """Adding `micros` (may be negative) of finalised pay to the person's remainder: the whole
    minor units to move from pending to payable (back, when negative; in micros) and the
    remainder left (0 <= remainder < one minor unit)."""
    step = micros_per_minor(currency)
    total = locked.remainder_micros + micros
    whole = total // step * step  # floor, also below zero
    return whole, total - whole


def _remainder_writes(locked: PersonPayLocked, remainder: int) -> list[AlsoWrite]:
    """The remainder's update when it changes (with the posting `tx`, or alone)."""
    if remainder == locked.remainder_micros:
        return []
    return [
        AlsoWrite(
            sql="UPDATE payments_earningremainder SET micros = %(micros)s FROM tx "
            "WHERE payments_earningremainder.id = %(id)s",
            params={"micros": remainder, "id": locked.remainder_id},
            types={"micros": "bigint", "id": "bigint"},
        )
    ]


def hourly_amount(*, seconds: int, rate_micros: int) -> int:
    """What `seconds` of active time earn at `rate_micros` per hour, in micros, rounded down. A
    day's earning is always this of its total seconds, so increments never drift."""
    return seconds * rate_micros // SECONDS_PER_HOUR


def _hourly_row(
    *,
    user_id: int,
    project: Project,
    match: Any,
    work_kind: str,
    level: int,
    day: date,
    at: datetime,
) -> Earning:
    lookup = {
        "user_id": user_id,
        "project_id": project.pk,
        "earned_on": day,
        "rate": match.rate,
        "unit": RateUnit.PER_HOUR,
    }
    row = Earning.objects.select_for_update().filter(**lookup).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return Earning.objects.create(
                **lookup,
                work_kind=work_kind,
                review_level=level,
                currency=match.amount.currency,
                amount_micros=0,
                rate_version=match.version,
                created_at=at,
            )
    except IntegrityError:
        # Created meanwhile by another submission of the same person and day.
        return Earning.objects.select_for_update().get(**lookup)


def _accrue_hours(
    *,
    user_id: int,
    project: Project,
    match: Any,
    work_kind: str,
    level: int,
    source: str,
    active_seconds: int,
    at: datetime,
) -> Earning | None:
    if active_seconds <= 0:
        return None
    day = timezone.localdate(at)
    earning = _hourly_row(
        user_id=user_id,
        project=project,
        match=match,
        work_kind=work_kind,
        level=level,
        day=day,
        at=at,
    )
    key = f"earning:accrue:hour:{earning.pk}:{source}"
    if earning.status == EarningStatus.REVERSED:
        return earning
    if LedgerTransaction.objects.filter(source_key=key).exists():
        return earning  # a repeat of the same submission
    seconds = earning.active_seconds + active_seconds
    amount = hourly_amount(seconds=seconds, rate_micros=match.rate.amount_micros)
    increment = amount - earning.amount_micros
    Earning.objects.filter(pk=earning.pk).update(active_seconds=seconds, amount_micros=amount)
    earning.active_seconds, earning.amount_micros = seconds, amount
    if increment <= 0:
        return earning
    posted = _post_accrual(
        source_key=key,
        user_id=user_id,
        project=project,
        amount=Micros(increment, earning.currency),
        memo=f"{_memo(earning, project.name)}: {active_seconds} s more",
        at=at,
    )
    if earning.accrued_by_id is None:
        Earning.objects.filter(pk=earning.pk).update(accrued_by=posted)
        earning.accrued_by = posted
    if earning.status == EarningStatus.PAYABLE:
        _move_to_payable(
            earning=earning,
            micros=increment,
            source_key=f"earning:final:{earning.pk}:{source}",
            memo=f"Payable: {_memo(earning, project.name)}",
            at=at,
        )
    return earning


# --- Finalise -------------------------------------------------------------------------------------


def _move_to_payable(
    *,
    earning: Earning,
    micros: int,
    source_key: str,
    memo: str,
    at: datetime,
    also: list[AlsoWrite] | None = None,
    locked: PersonPayLocked | None = None,
) -> LedgerTransaction | None:
    """Add `micros` (may be negative) of the person's finalised pay to their remainder and move
    the whole minor units of it from pending to payable (back, when negative); return the
    posting, or None when it moves nothing. `also`: the caller's writes that go with it (the
    earning's own status). Locks the person's pending and payable accounts and remainder; on
    PostgreSQL that lock is one statement and the rest one more. `locked`: the person's pay as
    the caller locked it in this transaction with nothing moved since (then no lock statement)."""
    if locked is None:
        locked = _person_pay_locked(user_id=earning.user_id, currency=earning.currency)
    whole, remainder = _remainder_split(locked, micros, earning.currency)
    writes = _remainder_writes(locked, remainder) + list(also or [])
    if whole == 0:
        ledger_writes_run(writes)
        return None
    moved = Micros(whole, earning.currency)
    return ledger_post(
        source_key=source_key,
        legs=[
            Leg(account=locked.pending, amount=-moved),
            Leg(account=locked.payable, amount=moved),
        ],
        actor=None,
        memo=memo[:REASON_MAX],
        at=at,
        audited=False,  # the earning and its transaction are the record (ledger_post)
        also=writes,
    )


def _make_payable(
    *, earning: Earning, project_name: str, at: datetime, locked: PersonPayLocked | None = None
) -> Earning:
    """Move a locked, pending or held earning to payable (its status changes with the posting).
    `locked`: as `_move_to_payable` takes it."""
    posted = _move_to_payable(
        locked=locked,
        earning=earning,
        micros=earning.amount_micros,
        source_key=f"earning:final:{earning.pk}",
        memo=f"Payable: {_memo(earning, project_name)}",
        at=at,
        also=[
            AlsoWrite(
                sql="UPDATE payments_earning SET status = %(status)s, finalised_by_id = tx.id, "
                "finalised_at = %(at)s FROM tx WHERE payments_earning.id = %(id)s",
                params={
                    "status": EarningStatus.PAYABLE.value,
                    "at": connection.ops.adapt_datetimefield_value(at),
                    "id": earning.pk,
                },
                types={"status": "text", "at": "timestamptz", "id": "bigint"},
            )
        ],
    )
    earning.status, earning.finalised_by, earning.finalised_at = EarningStatus.PAYABLE, posted, at
    return earning


def _finalise_or_hold(
    earnings: list[Earning],
    *,
    at: datetime,
    pay_locked: dict[tuple[int, str], PersonPayLocked] | None = None,
) -> list[Earning]:
    """Make each locked earning (annotated by `with_hold_causes`) payable, or hold it.
    `pay_locked`: the people's pay locked with the earnings, by (user id, currency); each is used
    for the first move of that person's pay only (a second move reads the remainder anew)."""
    unused = dict(pay_locked or {})
    for earning in earnings:
        cause = hold_cause_of(earning)
        if cause is None:
            name = earning.project_name  # type: ignore[attr-defined]
            locked = unused.pop((earning.user_id, earning.currency), None)
            _make_payable(earning=earning, project_name=name, at=at, locked=locked)
            continue
        Earning.objects.filter(pk=earning.pk).update(status=EarningStatus.HELD)
        earning.status = EarningStatus.HELD
        hold = Hold.objects.create(earning=earning, cause=cause[0], detail=cause[1], created_at=at)
        audit_record(
            actor=None,
            action="earnings.hold",
            target=hold,
            after={"earning": earning.pk, "cause": cause[0], "detail": cause[1]},
        )
    return earnings


@transaction.atomic(savepoint=False)
def earnings_finalise_task(*, task_id: int, at: datetime | None = None) -> list[Earning]:
    """The task became final: make each of its pending per-task earnings payable, or held when
    its person is suspended or has an open appeal or the task is under dispute. Return them.
    Repeating it changes nothing (only pending earnings move). Locks the task's earnings.
    Reads nothing when the submission that made it final (same task, same moment) found the
    project unpriced or made its work payable with its accrual (`settled_submissions`)."""
    if at is not None and settled_submissions.take(task_id=task_id, at=at):
        return []
    at = at or timezone.now()
    earnings, pay_locked = earnings_to_finalise_with_hold_causes(task_id=task_id)
    return _finalise_or_hold(earnings, at=at, pay_locked=pay_locked)


@transaction.atomic(savepoint=False)
def earning_finalise_gold(*, annotation_id: int, at: datetime | None = None) -> list[Earning]:
    """A gold answer was scored: its task never becomes final (labeling keeps gold tasks open),
    so the scoring is what makes its pay payable (or held). Repeating it changes nothing."""
    at = at or timezone.now()
    earnings = list(
        with_hold_causes(
            with_project_name(Earning.objects.select_for_update(of=("self",))).filter(
                annotation_id=annotation_id,
                review_id__isnull=True,
                status=EarningStatus.PENDING,
                unit=RateUnit.PER_TASK,
            )
        )
    )
    return _finalise_or_hold(earnings, at=at)


@transaction.atomic
def earnings_hourly_finalise_due(*, before: date, at: datetime | None = None) -> int:
    """Make every pending active-time earning of a day before `before` payable (or held, as
    per-task earnings are); return how many. Safe to run twice."""
    at = at or timezone.now()
    earnings = list(
        with_hold_causes(
            with_project_name(Earning.objects.select_for_update(of=("self",)))
            .filter(status=EarningStatus.PENDING, unit=RateUnit.PER_HOUR, earned_on__lt=before)
            .order_by("pk")
        )
    )
    return len(_finalise_or_hold(earnings, at=at))


@transaction.atomic
def earning_release(*, earning: Earning, at: datetime | None = None) -> Earning:
    """Make a held earning payable (the hold's service records who and why). Locks it."""
    at = at or timezone.now()
    locked = (
        Earning.objects.select_for_update(of=("self",)).select_related("project").get(pk=earning.pk)
    )
    if locked.status != EarningStatus.HELD:
        raise Conflict(f"This earning is {locked.get_status_display().lower()}, not held.")
    return _make_payable(earning=locked, project_name=locked.project.name, at=at)


# --- Reversal -------------------------------------------------------------------------------------


def _accruals_of(earning: Earning) -> list[LedgerTransaction]:
    if earning.unit == RateUnit.PER_HOUR:
        return list(
            LedgerTransaction.objects.filter(
                source_key__startswith=f"earning:accrue:hour:{earning.pk}:"
            ).order_by("pk")
        )
    return [earning.accrued_by] if earning.accrued_by is not None else []


def _moves_of(earning: Earning) -> list[LedgerTransaction]:
    own = f"earning:final:{earning.pk}"
    return list(
        LedgerTransaction.objects.filter(
            Q(source_key=own) | Q(source_key__startswith=f"{own}:"), reverses__isnull=True
        )
        .prefetch_related("entries")
        .order_by("pk")
    )


@transaction.atomic
def earning_reverse(
    *,
    earning: Earning,
    reason: str,
    actor: User | None,
    review_id: int | None = None,
    at: datetime | None = None,
) -> Earning:
    """Reverse an earning once, with `reason` (and the review that rejected or overruled the
    work): its accrual is reversed, and when it was payable its move to payable too (payable may
    go below zero: the person owes it). Reversing it again returns it unchanged. Raises
    ValidationFailed (field "reason"). Locks the earning, then the person's accounts."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "A reversal needs a reason.", fields={"reason": ["This field is required."]}
        )
    if len(reason) > REASON_MAX:
        message = f"At most {REASON_MAX} characters."
        raise ValidationFailed(message, fields={"reason": [message]})
    at = at or timezone.now()
    locked = earning_get_for_update(pk=earning.pk)
    if locked.status == EarningStatus.REVERSED:
        return locked
    was = locked.status
    _person_pay_locked(user_id=locked.user_id, currency=locked.currency)
    first: LedgerTransaction | None = None
    for accrual in _accruals_of(locked):
        posted = ledger_reverse(transaction=accrual, reason=reason, actor=actor, at=at)
        first = first or posted
    if was == EarningStatus.PAYABLE:
        moved_back = 0
        for move in _moves_of(locked):
            ledger_reverse(transaction=move, reason=reason, actor=actor, at=at)
            moved_back += sum(e.amount_micros for e in move.entries.all() if e.amount_micros > 0)
        # The remainder loses the earning and gets back what its moves had taken out of pending.
        _move_to_payable(
            earning=locked,
            micros=moved_back - locked.amount_micros,
            source_key=f"earning:final:settle:{locked.pk}",
            memo=f"Payable settled after reversing earning {locked.pk}",
            at=at,
        )
    Earning.objects.filter(pk=locked.pk).update(
        status=EarningStatus.REVERSED,
        reversed_by=first,
        reversal_reason=reason,
        reversal_review_id=review_id,
        reversed_at=at,
    )
    locked.status, locked.reversed_by, locked.reversal_reason = (
        EarningStatus.REVERSED,
        first,
        reason,
    )
    locked.reversal_review_id, locked.reversed_at = review_id, at
    audit_record(
        actor=actor,
        action="earnings.reverse",
        target=locked,
        before={"status": was},
        after={
            "status": EarningStatus.REVERSED.value,
            "reason": reason,
            "review": review_id,
            "amount_micros": locked.amount_micros,
            "currency": locked.currency,
        },
    )
    return locked


def earning_reverse_source(
    *,
    reason: str,
    annotation_id: int | None = None,
    review_id: int | None = None,
    by_review_id: int | None = None,
    at: datetime | None = None,
) -> Earning | None:
    """Reverse the per-task earning of an annotation or of a review verdict, if it has one."""
    earning = earning_of_source(annotation_id=annotation_id, review_id=review_id)
    if earning is None:
        return None
    return earning_reverse(
        earning=earning, reason=reason, actor=None, review_id=by_review_id, at=at
    )


# --- Holds that follow payable pay (payments/services/holds.py) ----------------------------------


def earning_withhold(*, earning: Earning, hold_id: int, at: datetime) -> Earning:
    """Take a payable earning (locked by the caller) back to held, for hold `hold_id`: its amount
    leaves the person's finalised pay, so the whole minor units it had added to payable go back to
    pending under `earning:withheld:<earning>:<hold>` (payable may go below zero when it was paid
    out: the person owes it until finance decides). Payable is then again the whole minor units of
    the person's payable earnings. The earning's own moves to payable stay as they were (that key
    is not a move's): a later reversal still takes each back once. Conflict unless payable. Locks
    the person's pending and payable accounts."""
    if earning.status != EarningStatus.PAYABLE:
        raise Conflict(f"This earning is {earning.get_status_display().lower()}, not payable.")
    _move_to_payable(
        earning=earning,
        micros=-earning.amount_micros,
        source_key=f"earning:withheld:{earning.pk}:{hold_id}",
        memo=f"Held again after it was payable: earning {earning.pk} (hold {hold_id})",
        at=at,
    )
    Earning.objects.filter(pk=earning.pk).update(status=EarningStatus.HELD)
    earning.status = EarningStatus.HELD
    return earning


@transaction.atomic
def earning_release_hold(*, earning: Earning, hold_id: int, at: datetime | None = None) -> Earning:
    """Make a held earning payable under its hold's own key, `earning:final:<earning>:release:
    <hold>`: for a hold that may follow an earlier finalisation of the earning, whose key
    `earning:final:<earning>` is then taken. It is one of the earning's moves to payable, so a
    later reversal takes it back. Conflict unless held. Locks it, then the person's accounts."""
    at = at or timezone.now()
    locked = (
        Earning.objects.select_for_update(of=("self",)).select_related("project").get(pk=earning.pk)
    )
    if locked.status != EarningStatus.HELD:
        raise Conflict(f"This earning is {locked.get_status_display().lower()}, not held.")
    posted = _move_to_payable(
        earning=locked,
        micros=locked.amount_micros,
        source_key=f"earning:final:{locked.pk}:release:{hold_id}",
        memo=f"Payable: {_memo(locked, locked.project.name)} (hold {hold_id} released)",
        at=at,
    )
    Earning.objects.filter(pk=locked.pk).update(
        status=EarningStatus.PAYABLE, finalised_by=posted, finalised_at=at
    )
    locked.status, locked.finalised_by, locked.finalised_at = EarningStatus.PAYABLE, posted, at
    return locked


# --- Training and test time (labeling's check_answered) ----------------------------------------


@transaction.atomic(savepoint=False)
def earning_accrue_check(
    *,
    user_id: int,
    project_id: int,
    check_kind: str,
    task_id: int,
    answer_id: int,
    active_seconds: int,
    answered_at: datetime,
) -> Earning | None:
    """Price an answered item of a training module or qualification test (`check_kind`), on
    the check's project, with the same card and rate choice as production work
    (`pricing_context`, `rate_for_work`: nothing while the setting says training time is not
    paid, or when no training or test rate is in force). Per active hour, the day's earning of
    the person on that project grows by the answer's server-measured seconds (payable after the
    day, `earnings_hourly_finalise_due`); per task, the answer earns once, under
    `earning:accrue:check_item:<answer id>`, and is payable at once (or held): a scored answer
    is final. Return the earning, or None when nothing prices it. Repeating it changes nothing.
    Raises ValidationFailed (field "check_kind") for a kind that is not training or test."""
    if check_kind not in CHECK_WORK_KINDS:
        raise ValidationFailed(
            f"check_kind: {check_kind!r} is not training or test.",
            fields={"check_kind": ["Training or test."]},
        )
    work_kind = WorkKind(check_kind).value
    context = pricing_context(
        project_id=project_id, user_id=user_id, work_kind=work_kind, at=answered_at
    )
    if context is None:
        return None
    accrued = _accrue_priced(
        context=context,
        user_id=user_id,
        work_kind=work_kind,
        level=0,
        source=f"check_item:{answer_id}",
        active_seconds=active_seconds,
        at=answered_at,
        work={"task_id": task_id, "check_answer_id": answer_id},
    )
    if accrued is None or accrued.unit == RateUnit.PER_HOUR:
        return accrued
    # Only a pending earning moves: a repeat finds it payable (or held) and moves nothing.
    due = with_hold_causes(
        with_project_name(Earning.objects.select_for_update(of=("self",))).filter(
            check_answer_id=answer_id, status=EarningStatus.PENDING
        )
    )
    finalised = _finalise_or_hold(list(due), at=answered_at)
    return finalised[0] if finalised else Earning.objects.get(check_answer_id=answer_id)


__all__ = [
    "earning_accrue",
    "earning_accrue_check",
    "earning_finalise_gold",
    "earning_release",
    "earning_release_hold",
    "earning_reverse",
    "earning_reverse_source",
    "earning_withhold",
    "earnings_finalise_task",
    "earnings_hourly_finalise_due",
    "hourly_amount",
]
