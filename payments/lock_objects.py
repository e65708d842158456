"""Every row lock of payments, in one place, in one order.

The order, for every transaction that takes more than one: the ledger transaction's source key
(its unique index, taken by the insert), then person accounts in ascending primary key. Platform
accounts (expenses, clearing) are never locked: their balances are sums of entries.
Earnings (payments/services/earnings.py) come first when taken: the earnings rows (a task's in
ascending pk, in one statement), then the person's pending and payable accounts with their
earning remainder (`person_pay_lock`: the lower account, the remainder, the higher account; a
task's read of its earnings to finalise takes those of all their people in the same statement,
`PERSON_PAY_LOCK_OF_EARNINGS`, in ascending account id across people; the pricing read of work
that makes its task final takes the same and its person's with them,
`PERSON_PAY_LOCK_OF_EARNINGS_AND_WORKER`, before the accrual's source key). A remainder is only ever
locked or written by a holder of its person's pending account, so it never waits while holding
anything a holder of the accounts needs. Holds are locked before their earning.
An incentive period is locked alone by each batch of its close, before what `ledger_post` takes
(the source key, then the person's payable account); a program row alone by its version writes.
A rate card is locked alone, by the writes of its versions (no ledger lock is held with it). A
person's payout account is locked first, then (Stripe Connect) their connected account row; no
other lock is held with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from core.statements import statement_rows
from payments.models import (
    PERSON_KINDS,
    AccountKind,
    IncentivePeriod,
    LedgerAccount,
    PayoutAccount,
    RateCard,
    RateUnit,
    StripeConnectedAccount,
)


def person_accounts_lock(account_ids: Iterable[int]) -> list[LedgerAccount]:
    """Lock the given person accounts, in ascending primary key; return them in that order."""
    ids = sorted(set(account_ids))
    return list(
        LedgerAccount.objects.select_for_update()
        .filter(pk__in=ids, kind__in=sorted(PERSON_KINDS))
        .order_by("pk")
    )


def person_accounts_lock_by_key(keys: Iterable[str]) -> list[LedgerAccount]:
    """Lock the person accounts with these keys, in ascending primary key; return them."""
    return list(
        LedgerAccount.objects.select_for_update()
        .filter(key__in=sorted(set(keys)), kind__in=sorted(PERSON_KINDS))
        .order_by("pk")
    )


@dataclass(frozen=True)
class PersonPayLocked:
    """A person's pending and payable accounts in one currency and their earning remainder, locked
    (`person_pay_lock`)."""

    pending: LedgerAccount
    payable: LedgerAccount
    remainder_id: int
    remainder_micros: int


# A person's pending and payable accounts in a currency with their earning remainder, one row per
# account, in ascending account id; `{people}` says whose. Each joined row locks its account and
# the remainder (FOR UPDATE added where the database has it), so the remainder read is the one
# committed last even when the statement waited for a lock.
_PERSON_PAY_ROWS = """
SELECT a.id, a.key, a.kind, a.currency, a.user_id, a.balance_micros,
       r.id AS remainder_id, r.micros AS remainder_micros
FROM payments_ledgeraccount a
JOIN payments_earningremainder r ON r.user_id = a.user_id AND r.currency = a.currency
WHERE {people} AND a.kind IN ({pending}, {payable})
ORDER BY a.id
"""
_KINDS = {"pending": f"'{AccountKind.PENDING.value}'", "payable": f"'{AccountKind.PAYABLE.value}'"}
_PERSON_PAY_LOCK = _PERSON_PAY_ROWS.format(
    people="a.user_id = %(user)s AND a.currency = %(currency)s", **_KINDS
)
# The same lock for every person and currency of the earnings in a relation `e` (user_id,
# currency) of the caller's statement, which locks those earnings first (the module's order).
_OF_EARNINGS = "(a.user_id, a.currency) IN (SELECT DISTINCT user_id, currency FROM e)"
PERSON_PAY_LOCK_OF_EARNINGS = _PERSON_PAY_ROWS.format(people=_OF_EARNINGS, **_KINDS) + "FOR UPDATE"
# The same, and also the pay of the person whose work a statement prices (`%(user)s`, in the
# currency of the version in force `v` of that statement): the pricing read of work that makes its
# task final, which locks the task's pending earnings `e` first. None of it when the version
# prices that kind of work (`%(work_kind)s`) per active hour: that accrual locks the day's earning
# row, which comes before pay.
_OF_EARNINGS_AND_WORKER = (
    "(a.user_id, a.currency) IN (SELECT user_id, currency FROM e "  # noqa: S608  (constant SQL)
    "UNION SELECT %(user)s, v.v_currency FROM v) "
    "AND NOT EXISTS (SELECT 1 FROM payments_rate hourly, v WHERE hourly.version_id = v.v_id "
    f"AND hourly.work_kind = %(work_kind)s AND hourly.unit = '{RateUnit.PER_HOUR.value}')"
)
PERSON_PAY_LOCK_OF_EARNINGS_AND_WORKER = (
    _PERSON_PAY_ROWS.format(people=_OF_EARNINGS_AND_WORKER, **_KINDS) + "FOR UPDATE"
)
PERSON_PAY_ROW_COLUMNS = (
    "id",
    "key",
    "kind",
    "currency",
    "user_id",
    "balance_micros",
    "remainder_id",
    "remainder_micros",
)


# The account's fields among those columns, in the model's field order (as from_db takes them).
_ACCOUNT_FIELDS = [
    f.attname
    for f in LedgerAccount._meta.concrete_fields
    if f.attname in PERSON_PAY_ROW_COLUMNS[:6]
]


def person_pay_locked_of_rows(
    rows: Iterable[Sequence[Any]],
) -> dict[tuple[int, str], PersonPayLocked]:
    """The locked pay of each person and currency in `rows` (the columns of `_PERSON_PAY_ROWS`, in
    order), for those whose pending and payable accounts and remainder all exist."""
    accounts: dict[tuple[int, str], dict[str, LedgerAccount]] = {}
    remainders: dict[tuple[int, str], tuple[int, int]] = {}
    for row in rows:
        known = dict(zip(PERSON_PAY_ROW_COLUMNS, row, strict=True))
        owner = (int(known["user_id"]), str(known["currency"]))
        remainders[owner] = (int(known["remainder_id"]), int(known["remainder_micros"]))
        accounts.setdefault(owner, {})[str(known["kind"])] = LedgerAccount.from_db(
            connection.alias, _ACCOUNT_FIELDS, [known[name] for name in _ACCOUNT_FIELDS]
        )
    locked = {}
    for owner, kinds in accounts.items():
        if AccountKind.PENDING in kinds and AccountKind.PAYABLE in kinds:
            remainder_id, remainder_micros = remainders[owner]
            locked[owner] = PersonPayLocked(
                pending=kinds[AccountKind.PENDING],
                payable=kinds[AccountKind.PAYABLE],
                remainder_id=remainder_id,
                remainder_micros=remainder_micros,
            )
    return locked


def person_pay_lock(*, user_id: int, currency: str) -> PersonPayLocked | None:
    """Lock the person's pending and payable accounts in `currency` (ascending primary key, the
    module's order) and, with them, their earning remainder; return them as they are now, or None
    when one of the three does not exist yet (open them, then lock again). One statement."""
    sql = _PERSON_PAY_LOCK
    if connection.features.has_select_for_update:
        sql += "FOR UPDATE"
    rows = statement_rows(
        sql,
        arguments={"user": "bigint", "currency": "text"},
        owner="payments",
        values={"user": user_id, "currency": currency},
    )
    return person_pay_locked_of_rows(rows).get((user_id, currency))


def rate_card_lock(card_id: int) -> RateCard:
    """Lock one rate card (its versions are numbered and added under this lock); return it."""
    return RateCard.objects.select_for_update().get(pk=card_id)


def payout_account_lock(*, user_id: int) -> PayoutAccount:
    """Lock and return the person's payout account (PayoutAccount.DoesNotExist if none)."""
    return PayoutAccount.objects.select_for_update().get(user_id=user_id)


def stripe_connected_account_lock(*, stripe_account: str) -> StripeConnectedAccount:
    """Lock and return a connected account row (after its person's payout account)."""
    return StripeConnectedAccount.objects.select_for_update().get(stripe_account=stripe_account)


def incentive_period_lock(period_id: int) -> IncentivePeriod:
    """Lock one incentive period (each batch of its close holds it); return it with its program
    and version."""
    return (
        IncentivePeriod.objects.select_for_update(of=("self",))
        .select_related("program", "version")
        .get(pk=period_id)
    )
