"""Posting to the ledger: the only code that writes ledger transactions, entries and balances.

Units: every entry holds micro-units (1e-6 of a major unit) of its account's currency, so a
sub-cent rate is exact. A person's payable, in-transit and paid accounts hold whole minor units
only: micros move from pending to payable through `ledger_release_to_payable`, which rounds down
(kit.money.micros_to_minor) and leaves the remainder in pending, carried to the next release.

Signs: a positive amount credits the account (what its holder is owed grows), a negative amount
debits it. A transaction's entries sum to zero per currency; a platform expense account therefore
shows the platform's cost as a negative balance.

Lock order (the same for every writer, so postings never deadlock):
1. the transaction's `source_key`: its insert takes the unique index entry; a concurrent posting
   with the same key waits there and then returns the first one's transaction;
2. person accounts (pending, payable, in transit, paid), in ascending primary key: their
   `balance_micros` changes by one `F()` UPDATE each, in that order;
   (`ledger_release_to_payable` locks the person's pending and payable accounts, ascending,
   before it inserts its key: its keys are posted by releases only, so no writer holds such a
   key while waiting for a person account; so does the accrual of work that makes its task
   final, whose pricing read locks the person's pay first: its keys are new, the work's own);
3. nothing else. Platform accounts (labour expense per project or customer, bonus expense,
   provider clearing) are only referenced by new entry rows, never updated or locked, so postings
   for different people to the same project never wait for each other; their balances are sums
   of their entries (payments.selectors.ledger).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record, audit_record_many
from core.errors import Conflict, ValidationFailed
from core.statements import model_built, statement_rows
from kit.money import Micros, MoneyError, currency_exponent, micros_per_minor, micros_to_minor
from labeling.models import Customer, Project
from payments.lock_objects import person_accounts_lock
from payments.models import (
    CUSTOMER_KINDS,
    PERSON_KINDS,
    PROJECT_KINDS,
    WHOLE_MINOR_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)

SOURCE_KEY_MAX = 200


@dataclass(frozen=True)
class Leg:
    """One line to post: `amount` credited to `account` (debited when negative)."""

    account: LedgerAccount
    amount: Micros


def ledger_account_key(
    *,
    kind: str,
    currency: str,
    user_id: int | None = None,
    project_id: int | None = None,
    customer_id: int | None = None,
) -> str:
    """The unique key of an account: its kind, its owner and its currency."""
    owner = (
        f"user:{user_id}"
        if user_id is not None
        else f"project:{project_id}"
        if project_id is not None
        else f"customer:{customer_id}"
        if customer_id is not None
        else "platform"
    )
    return f"{owner}:{kind}:{currency}"


def _check_account_request(
    kind: str, currency: str, user: Any, project: Any, customer: Any
) -> AccountKind:
    try:
        account_kind = AccountKind(kind)
    except ValueError:
        raise ValidationFailed(
            "Unknown account kind.", fields={"kind": [f"Use one of {', '.join(AccountKind)}."]}
        ) from None
    try:
        currency_exponent(currency)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), fields={"currency": [str(exc)]}) from None
    owners = {
        "user": (user is not None, account_kind in PERSON_KINDS),
        "project": (project is not None, account_kind in PROJECT_KINDS),
        "customer": (customer is not None, account_kind in CUSTOMER_KINDS),
    }
    for field, (given, needed) in owners.items():
        if given != needed:
            message = (
                f"A {account_kind.value} account needs a {field}."
                if needed
                else f"A {account_kind.value} account has no {field}."
            )
            raise ValidationFailed(message, fields={field: [message]})
    return account_kind


@transaction.atomic
def ledger_account_get_or_create(
    *,
    kind: str,
    currency: str,
    user: User | None = None,
    project: Project | None = None,
    customer: Customer | None = None,
) -> LedgerAccount:
    """Return the account of `kind` in `currency` for its owner (a person for pending, payable,
    in transit and paid; a project or customer for labour expense; none for the platform's
    accounts), creating it the first time. Raises ValidationFailed naming the wrong field."""
    account_kind = _check_account_request(kind, currency, user, project, customer)
    key = ledger_account_key(
        kind=account_kind,
        currency=currency,
        user_id=user.pk if user else None,
        project_id=project.pk if project else None,
        customer_id=customer.pk if customer else None,
    )
    existing = LedgerAccount.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            account = LedgerAccount.objects.create(
                key=key,
                kind=account_kind,
                currency=currency,
                user=user,
                project=project,
                customer=customer,
            )
    except IntegrityError:
        # Created meanwhile by a concurrent posting for the same owner.
        return LedgerAccount.objects.get(key=key)
    audit_record(
        actor=None,
        action="ledger.account_open",
        target=account,
        after={"key": key, "kind": account_kind.value, "currency": currency},
    )
    return account


@transaction.atomic
def ledger_person_accounts_get_or_create(
    *, kind: str, currency: str, user_ids: Sequence[int]
) -> dict[int, LedgerAccount]:
    """Return each person's account of `kind` in `currency` by user id, creating the missing
    ones in one statement (a payout run's batch of people); each new account is audited as
    `ledger_account_get_or_create` does. Raises ValidationFailed for a kind people do not hold."""
    # object(): a person is the owner (the kind check needs to know one is given, not who).
    account_kind = _check_account_request(kind, currency, object(), None, None)
    keys = {
        user_id: ledger_account_key(kind=account_kind, currency=currency, user_id=user_id)
        for user_id in user_ids
    }
    found: dict[int, LedgerAccount] = {}
    for account in LedgerAccount.objects.filter(key__in=list(keys.values())):
        if account.user_id is not None:
            found[account.user_id] = account
    missing = [user_id for user_id in keys if user_id not in found]
    if missing:
        LedgerAccount.objects.bulk_create(
            [
                LedgerAccount(key=keys[u], kind=account_kind, currency=currency, user_id=u)
                for u in missing
            ],
            ignore_conflicts=True,  # created meanwhile by a concurrent posting: theirs is kept
        )
        created = [
            account
            for account in LedgerAccount.objects.filter(key__in=[keys[u] for u in missing])
            if account.user_id is not None  # the kind check above says it has one
            and account.user_id not in found
        ]
        for account in created:
            if account.user_id is not None:
                found[account.user_id] = account
        # One audit event per account opened, as `ledger_account_get_or_create` records, in one
        # insert for the batch (a payout run's freeze opens thousands).
        audit_record_many(
            actor=None,
            action="ledger.account_open",
            changes=[
                (a, {"key": a.key, "kind": account_kind.value, "currency": currency})
                for a in created
            ],
        )
    return found


def _validate(source_key: str, legs: Sequence[Leg], memo: str) -> None:
    if not source_key or not source_key.strip():
        raise ValidationFailed(
            "A posting needs a source key.", fields={"source_key": ["This field is required."]}
        )
    if len(source_key) > SOURCE_KEY_MAX:
        message = f"At most {SOURCE_KEY_MAX} characters."
        raise ValidationFailed(message, fields={"source_key": [message]})
    if len(memo) > 500:
        raise ValidationFailed(
            "The memo is too long.", fields={"memo": ["At most 500 characters."]}
        )
    if len(legs) < 2:
        message = "A transaction has at least two entries."
        raise ValidationFailed(message, fields={"legs": [message]})
    seen: set[int] = set()
    net: dict[str, int] = defaultdict(int)
    for leg in legs:
        account = leg.account
        if account.pk is None:
            raise ValidationFailed("Unsaved account.", fields={"legs": ["Unsaved account."]})
        if account.pk in seen:
            message = f"Account {account.key} appears twice; post it once with the sum."
            raise ValidationFailed(message, fields={"legs": [message]})
        seen.add(account.pk)
        if leg.amount.currency != account.currency:
            message = (
                f"An amount in {leg.amount.currency} cannot be posted to {account.key} "
                f"({account.currency})."
            )
            raise ValidationFailed(message, fields={"legs": [message]})
        if leg.amount.amount == 0:
            message = f"The entry for {account.key} is zero; leave it out."
            raise ValidationFailed(message, fields={"legs": [message]})
        if account.kind in WHOLE_MINOR_KINDS and leg.amount.amount % micros_per_minor(
            account.currency
        ):
            message = (
                f"{account.key} holds whole minor units only; round through "
                "ledger_release_to_payable."
            )
            raise ValidationFailed(message, fields={"legs": [message]})
        net[account.currency] += leg.amount.amount
    unbalanced = {currency: total for currency, total in net.items() if total != 0}
    if unbalanced:
        detail = ", ".join(
            f"{total:+d} micro-units of {c}" for c, total in sorted(unbalanced.items())
        )
        message = f"The entries do not net to zero per currency: {detail}."
        raise ValidationFailed(message, fields={"legs": [message]})


@dataclass(frozen=True)
class AlsoWrite:
    """A write of the caller's own that commits with a posting and only with it (`ledger_post`'s
    `also`): one INSERT ... SELECT ... FROM tx, or UPDATE ... FROM tx, with `%(name)s`
    parameters, where `tx` is a one-column (`id`) relation holding the posted transaction. When
    the posting is a repeat, `tx` is empty and the write changes nothing; `ledger_writes_run`
    runs writes without a posting, `tx` then holding one NULL id. `types`: each parameter's
    SQL type; when every parameter has one, the statement is prepared once per connection on
    PostgreSQL (planning a posting cost PostgreSQL more than running it)."""

    sql: str
    params: dict[str, Any]
    types: dict[str, str] = dataclass_field(default_factory=dict)


_PARAM = re.compile(r"%\((\w+)\)s")


def _renamed(prefix: str, sql: str) -> str:
    """`sql` with its `%(name)s` parameters renamed under `prefix`."""
    return _PARAM.sub(lambda m: f"%({prefix}{m[1]})s", sql)


def _named(prefix: str, write: AlsoWrite) -> tuple[str, dict[str, Any]]:
    """`write` with its parameters renamed under `prefix`, so that several share one statement."""
    return _renamed(prefix, write.sql), {
        f"{prefix}{name}": value for name, value in write.params.items()
    }


def _types_named(prefix: str, write: AlsoWrite) -> dict[str, str]:
    return {f"{prefix}{name}": sql_type for name, sql_type in write.types.items()}


def _run_composed(sql: str, params: dict[str, Any], types: dict[str, str]) -> list[Any]:
    """Run a composed PostgreSQL statement: prepared once per connection when every parameter
    has a type, else as it is. Its rows."""
    if set(params) <= set(types):
        return statement_rows(
            sql, arguments={name: types[name] for name in params}, values=params, owner="payments"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _run_with_tx(
    writes: Sequence[AlsoWrite], tx_id: int | None, then_id: int | None = None
) -> None:
    """Run `writes` one by one, `tx` holding `tx_id` and `tx_then` holding `then_id` (the path
    without data-modifying CTEs)."""
    with connection.cursor() as cursor:
        for write in writes:
            sql, params = _named("w_", write)
            cursor.execute(
                "WITH tx(id) AS (SELECT %(tx_id)s), tx_then(id) AS (SELECT %(then_id)s) " + sql,
                {**params, "tx_id": tx_id, "then_id": then_id},
            )


def ledger_writes_run(writes: Sequence[AlsoWrite]) -> None:
    """Run writes that go with no posting (`tx` holds one NULL id): one statement on
    PostgreSQL, one per write elsewhere."""
    if not writes:
        return
    if connection.vendor != "postgresql":
        _run_with_tx(writes, None)
        return
    parts, params, types = ["tx AS (SELECT NULL::bigint AS id)"], {}, {}
    for i, write in enumerate(writes):
        sql, named = _named(f"w{i}_", write)
        parts.append(f"w{i} AS ({sql})")
        params.update(named)
        types.update(_types_named(f"w{i}_", write))
    _run_composed("WITH " + ",\n".join(parts) + "\nSELECT 1", params, types)


@dataclass(frozen=True)
class Posting:
    """A system posting that follows another in the same statement (`ledger_post_then`)."""

    source_key: str
    legs: Sequence[Leg]
    memo: str


def _transaction_row(
    *,
    source_key: str,
    memo: str,
    at: datetime,
    actor: User | None = None,
    reverses: LedgerTransaction | None = None,
    reason: str = "",
) -> dict[str, Any]:
    return {
        "source_key": source_key,
        "memo": memo,
        "reverses_id": reverses.pk if reverses is not None else None,
        "reason": reason,
        "actor_id": actor.pk if actor is not None else None,
        "posted_at": connection.ops.adapt_datetimefield_value(at),
    }


_TRANSACTION_ACTOR = LedgerTransaction._meta.get_field("actor")
_TRANSACTION_REVERSES = LedgerTransaction._meta.get_field("reverses")


def _posted(
    pk: int,
    row: dict[str, Any],
    *,
    at: datetime,
    actor: User | None = None,
    reverses: LedgerTransaction | None = None,
) -> LedgerTransaction:
    posted = model_built(
        LedgerTransaction,
        id=pk,
        source_key=row["source_key"],
        memo=row["memo"],
        actor_id=actor.pk if actor is not None else None,
        posted_at=at,
        reverses_id=reverses.pk if reverses is not None else None,
        reason=row["reason"],
    )
    if actor is not None:
        _TRANSACTION_ACTOR.set_cached_value(posted, actor)
    if reverses is not None:
        _TRANSACTION_REVERSES.set_cached_value(posted, reverses)
    posted._state.adding = False
    posted._state.db = connection.alias
    return posted


def _entries_and_balances(posted: LedgerTransaction, legs: Sequence[Leg]) -> None:
    """A posted transaction's entries and person balances, one statement each (the path without
    data-modifying CTEs)."""
    LedgerEntry.objects.bulk_create(
        LedgerEntry(transaction=posted, account=leg.account, amount_micros=leg.amount.amount)
        for leg in legs
    )
    for leg in sorted(legs, key=lambda leg: leg.account.pk):
        if leg.account.kind in PERSON_KINDS:
            LedgerAccount.objects.filter(pk=leg.account.pk).update(
                balance_micros=F("balance_micros") + leg.amount.amount
            )


def _insert(
    *,
    source_key: str,
    legs: Sequence[Leg],
    memo: str,
    actor: User | None,
    at: datetime,
    reverses: LedgerTransaction | None = None,
    reason: str = "",
    also: Sequence[AlsoWrite] = (),
    then: Posting | None = None,
) -> tuple[LedgerTransaction, bool, LedgerTransaction | None]:
    """Insert the transaction, its entries, the person balances and the caller's `also` writes;
    (existing, False, None) on a repeat, which writes nothing. `then`: a second (system)
    transaction posted with it, only when it is posted now; returned third.

    The transaction row goes in by `INSERT ... ON CONFLICT (source_key) DO NOTHING RETURNING id`:
    a repeat (or a concurrent posting of the same key, waited for on its index entry) inserts
    nothing and is read back. No savepoint and no read first: postings run on the queue's submit
    path, where each round trip counts. On PostgreSQL everything is one statement
    (`_posting_statement`); elsewhere one statement per step."""
    row = _transaction_row(
        source_key=source_key, memo=memo, at=at, actor=actor, reverses=reverses, reason=reason
    )
    then_row = _transaction_row(source_key=then.source_key, memo=then.memo, at=at) if then else None
    then_id: int | None = None
    if connection.vendor == "postgresql":
        sql, params, types = _posting_statement(
            row, legs, also, then_row=then_row, then_legs=then.legs if then else ()
        )
        found = _run_composed(sql, params, types)
        posted_id = int(found[0][0]) if found else None
        then_id = int(found[0][1]) if found and found[0][1] is not None else None
    else:
        posted_id = _transaction_row_insert(row)
    if posted_id is None:
        return LedgerTransaction.objects.get(source_key=source_key), False, None
    posted = _posted(posted_id, row, at=at, actor=actor, reverses=reverses)
    if connection.vendor != "postgresql":
        _entries_and_balances(posted, legs)
        if then is not None and then_row is not None:
            then_id = _transaction_row_insert(then_row)
            if then_id is not None:
                _entries_and_balances(_posted(then_id, then_row, at=at), then.legs)
        _run_with_tx(also, posted_id, then_id)
    followed = (
        _posted(then_id, then_row, at=at) if then_id is not None and then_row is not None else None
    )
    return posted, True, followed


_TRANSACTION_INSERT = (
    "INSERT INTO payments_ledgertransaction "
    "(source_key, memo, reverses_id, reason, actor_id, posted_at) "
    "VALUES (%(source_key)s, %(memo)s, %(reverses_id)s, %(reason)s, %(actor_id)s, %(posted_at)s) "
    "ON CONFLICT (source_key) DO NOTHING RETURNING id"
)


_TRANSACTION_TYPES = {
    "source_key": "text",
    "memo": "text",
    "reverses_id": "bigint",
    "reason": "text",
    "actor_id": "bigint",
    "posted_at": "timestamptz",
}


# A system posting (no actor, no reversal, no reason: the earnings' postings, on every submit)
# writes those three as constants, so its prepared statement takes three arguments fewer.
_SYSTEM_TRANSACTION_INSERT = (
    "INSERT INTO payments_ledgertransaction "
    "(source_key, memo, reverses_id, reason, actor_id, posted_at) "
    "VALUES (%(source_key)s, %(memo)s, NULL, '', NULL, %(posted_at)s) "
    "ON CONFLICT (source_key) DO NOTHING RETURNING id"
)
_SYSTEM_TRANSACTION_TYPES = {"source_key": "text", "memo": "text", "posted_at": "timestamptz"}


def _is_system(row: dict[str, Any]) -> bool:
    return row["actor_id"] is None and row["reverses_id"] is None and row["reason"] == ""


# The second transaction of `ledger_post_then`, a system posting at the first one's time:
# inserted only when the first was (a repeat of the first posts neither).
_THEN_INSERT = (
    "INSERT INTO payments_ledgertransaction "
    "(source_key, memo, reverses_id, reason, actor_id, posted_at) "
    "SELECT %(t_source_key)s, %(t_memo)s, NULL, '', NULL, %(posted_at)s "
    "WHERE EXISTS (SELECT 1 FROM tx) ON CONFLICT (source_key) DO NOTHING RETURNING id"
)
_THEN_TYPES = {"t_source_key": "text", "t_memo": "text"}


@dataclass(frozen=True)
class _PostingShape:
    """A posting statement's text and argument types, and where each call's values go: the
    transaction row's (`row_names`), each leg's account and amount (`leg_names`, in the legs'
    order across both transactions), each `also` write's parameters (`write_names`: its own name
    and the statement's)."""

    sql: str
    types: dict[str, str]
    row_names: tuple[str, ...]
    leg_names: tuple[tuple[str, str], ...]
    write_names: tuple[tuple[tuple[str, str], ...], ...]


# Shape: (a system posting?, with a second transaction?, each transaction's legs as "is it a
# person account?", each write's SQL, parameter names and types).
_ShapeKey = tuple[
    bool,
    bool,
    tuple[tuple[bool, ...], ...],
    tuple[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]], ...],
]


@functools.lru_cache(maxsize=128)
def _posting_shape(key: _ShapeKey) -> _PostingShape:
    """The posting statement of this shape, composed once (the submit path posts the same few
    shapes every time): see `_posting_statement`."""
    system, has_then, steps, writes = key
    types = dict(_SYSTEM_TRANSACTION_TYPES if system else _TRANSACTION_TYPES)
    parts = [f"tx AS ({_SYSTEM_TRANSACTION_INSERT if system else _TRANSACTION_INSERT})"]
    relations = ["tx"]
    if has_then:
        types.update(_THEN_TYPES)
        parts.append(f"tx_then AS ({_THEN_INSERT})")
        relations.append("tx_then")
    selects, changes, person_ids, leg_names = [], [], [], []
    n = 0
    for relation, persons in zip(relations, steps, strict=True):
        values = []
        for person in persons:
            account, amount = f"a{n}", f"m{n}"
            leg_names.append((account, amount))
            types[account], types[amount] = "bigint", "bigint"
            values.append(f"(%({account})s::bigint, %({amount})s::bigint)")
            if person:
                person_ids.append(f"%({account})s")
                change = f"SELECT %({account})s::bigint, %({amount})s::bigint FROM {relation}"  # noqa: S608
                changes.append(change)
            n += 1
        # Only placeholders are composed into these statements (S608), never values.
        selects.append(
            f"SELECT {relation}.id, e.account_id, e.amount FROM {relation}, "  # noqa: S608
            f"(VALUES {', '.join(values)}) AS e(account_id, amount)"
        )
    parts.append(
        "entries AS (INSERT INTO payments_ledgerentry (transaction_id, account_id, amount_micros) "
        + " UNION ALL ".join(selects)
        + ")"
    )
    if person_ids:
        parts += [
            f"locked AS (SELECT id FROM payments_ledgeraccount WHERE id IN ({', '.join(person_ids)}) "  # noqa: S608
            "AND EXISTS (SELECT 1 FROM tx) ORDER BY id FOR UPDATE)",
            "balances AS (UPDATE payments_ledgeraccount a "  # noqa: S608
            "SET balance_micros = a.balance_micros + b.amount "
            "FROM (SELECT account_id, sum(amount)::bigint AS amount FROM ("
            + " UNION ALL ".join(changes)
            + ") AS c(account_id, amount) GROUP BY account_id) AS b "
            "WHERE a.id = b.account_id AND a.id IN (SELECT id FROM locked))",
        ]
    write_names = []
    for i, (sql, names, write_types) in enumerate(writes):
        prefix = f"w{i}_"
        parts.append(f"w{i} AS ({_renamed(prefix, sql)})")
        write_names.append(tuple((name, f"{prefix}{name}") for name in names))
        types.update({f"{prefix}{name}": sql_type for name, sql_type in write_types})
    last = "(SELECT id FROM tx_then)" if has_then else "NULL::bigint"
    return _PostingShape(
        sql="WITH " + ",\n".join(parts) + f"\nSELECT id, {last} AS then_id FROM tx",
        types=types,
        row_names=tuple(_SYSTEM_TRANSACTION_TYPES if system else _TRANSACTION_TYPES),
        leg_names=tuple(leg_names),
        write_names=tuple(write_names),
    )


def _posting_statement(
    row: dict[str, Any],
    legs: Sequence[Leg],
    also: Sequence[AlsoWrite],
    *,
    then_row: dict[str, Any] | None = None,
    then_legs: Sequence[Leg] = (),
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """One PostgreSQL statement that posts: the transaction row (`tx`, empty on a repeat), its
    entries, the person balances and the `also` writes, each of the last three only from `tx`.
    With `then_row` (a system posting at the same time), a second transaction (`tx_then`, only
    when `tx` was inserted) with its entries; each person balance then changes once, by the sum
    of both transactions' legs. The person accounts are locked in ascending primary key
    (`locked`, the module's lock order) before their balances change; platform accounts are only
    referenced by entries. Returns the statement, its parameters and their types."""
    steps = [legs] if then_row is None else [legs, then_legs]
    system = _is_system(row)
    shape = _posting_shape(
        (
            system,
            then_row is not None,
            tuple(tuple(leg.account.kind in PERSON_KINDS for leg in step) for step in steps),
            tuple((write.sql, tuple(write.params), tuple(write.types.items())) for write in also),
        )
    )
    params = {name: row[name] for name in shape.row_names}
    if then_row is not None:
        params["t_source_key"], params["t_memo"] = then_row["source_key"], then_row["memo"]
    for (account, amount), leg in zip(shape.leg_names, [*legs, *then_legs], strict=True):
        params[account], params[amount] = leg.account.pk, leg.amount.amount
    for names, write in zip(shape.write_names, also, strict=True):
        for name, named in names:
            params[named] = write.params[name]
    return shape.sql, params, shape.types


def _transaction_row_insert(row: dict[str, Any]) -> int | None:
    """Insert a transaction row unless its source key exists; its id, or None for a repeat."""
    with connection.cursor() as cursor:
        cursor.execute(_TRANSACTION_INSERT, row)
        found = cursor.fetchone()
    return int(found[0]) if found is not None else None


def _entries_snapshot(legs: Sequence[Leg]) -> list[dict[str, Any]]:
    return [{"account": leg.account.key, "amount_micros": leg.amount.amount} for leg in legs]


def ledger_post(
    *,
    source_key: str,
    legs: Sequence[Leg],
    actor: User | None,
    memo: str = "",
    at: datetime | None = None,
    audited: bool = True,
    also: Sequence[AlsoWrite] = (),
) -> LedgerTransaction:
    """Post one transaction of `legs` under `source_key`, or return the transaction already
    posted under that key (a repeat changes nothing, whatever its legs).

    Locks: the source key's index entry, then the person accounts among the legs in ascending
    primary key (see the module docstring). Raises ValidationFailed (field "legs" or
    "source_key") when the legs do not net to zero per currency, mix a currency into an account
    of another, or put fractions of a minor unit into payable, in-transit or paid accounts; it
    validates before it writes anything.

    Runs in the caller's transaction when there is one, without a savepoint of its own (a
    database error then fails the caller's whole transaction, as it should: half a posting is
    never kept). `audited=False` leaves out the audit trail's copy: for the postings of
    earnings, which the work events make on every submission and whose transaction row (source
    key, memo, time, entries, never changed) is their own record; postings by people (finance)
    keep it. `also`: the caller's writes that commit with this posting and only with it (see
    `AlsoWrite`), in the same statement on PostgreSQL: an earning's own row next to its money.
    """
    _validate(source_key, legs, memo)
    with transaction.atomic(savepoint=False):
        posted, created, _ = _insert(
            source_key=source_key,
            legs=legs,
            memo=memo,
            actor=actor,
            at=at or timezone.now(),
            also=also,
        )
        if created and (audited or actor is not None):
            audit_record(
                actor=actor,
                action="ledger.post",
                target=posted,
                after={"source_key": source_key, "memo": memo, "entries": _entries_snapshot(legs)},
            )
    return posted


def ledger_post_then(
    *, first: Posting, then: Posting, at: datetime, also: Sequence[AlsoWrite] = ()
) -> tuple[LedgerTransaction, LedgerTransaction | None]:
    """Post `first` and, only when it is posted now, `then`: two system transactions (not
    audited, as `ledger_post(audited=False)`), in one statement on PostgreSQL. Return `first`
    (as posted, or as found on a repeat) and `then` (None on a repeat: a repeat of `first` posts
    nothing, whatever `then` says). `also`: as `ledger_post`'s, seeing `tx` (the first) and
    `tx_then` (the second, empty on a repeat). Validates both before writing anything; locks as
    `ledger_post` does, the person accounts of both in one ascending order."""
    _validate(first.source_key, first.legs, first.memo)
    _validate(then.source_key, then.legs, then.memo)
    with transaction.atomic(savepoint=False):
        posted, _created, followed = _insert(
            source_key=first.source_key,
            legs=first.legs,
            memo=first.memo,
            actor=None,
            at=at,
            also=also,
            then=then,
        )
    return posted, followed


@transaction.atomic
def ledger_reverse(
    *,
    transaction: LedgerTransaction,
    reason: str,
    actor: User | None,
    at: datetime | None = None,
) -> LedgerTransaction:
    """Post the reversal of `transaction` (every entry negated) with `reason`, once: reversing it
    again returns the first reversal. Raises ValidationFailed (field "reason") without a reason
    and Conflict for a transaction that is itself a reversal (post the correction anew)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "A reversal needs a reason.", fields={"reason": ["This field is required."]}
        )
    if len(reason) > 500:
        raise ValidationFailed(
            "The reason is too long.", fields={"reason": ["At most 500 characters."]}
        )
    if transaction.reverses_id is not None:
        raise Conflict("A reversal is not reversed; post the correct transaction with a new key.")
    already = LedgerTransaction.objects.filter(reverses=transaction).first()
    if already is not None:
        return already
    entries = list(transaction.entries.select_related("account"))
    legs = [
        Leg(account=entry.account, amount=Micros(-entry.amount_micros, entry.account.currency))
        for entry in entries
    ]
    posted, created, _ = _insert(
        source_key=f"reversal:{transaction.pk}",
        legs=legs,
        memo=f"Reversal of {transaction.source_key}"[:500],
        actor=actor,
        at=at or timezone.now(),
        reverses=transaction,
        reason=reason,
    )
    if created:
        audit_record(
            actor=actor,
            action="ledger.reverse",
            target=posted,
            before={"reversed": transaction.pk, "source_key": transaction.source_key},
            after={"reason": reason, "entries": _entries_snapshot(legs)},
        )
    return posted


@transaction.atomic
def ledger_release_to_payable(
    *,
    user: User,
    currency: str,
    source_key: str,
    actor: User | None,
    at: datetime | None = None,
) -> LedgerTransaction | None:
    """Move the whole minor units of the person's pending balance in `currency` to payable,
    rounding down; the remainder (less than one minor unit) stays pending for the next release.
    Return the transaction, the one already posted under `source_key`, or None when less than one
    minor unit is pending. Locks the person's pending and payable accounts (ascending pk)."""
    previous = LedgerTransaction.objects.filter(source_key=source_key).first()
    if previous is not None:
        return previous
    pending = ledger_account_get_or_create(kind=AccountKind.PENDING, currency=currency, user=user)
    payable = ledger_account_get_or_create(kind=AccountKind.PAYABLE, currency=currency, user=user)
    locked = {a.pk: a for a in person_accounts_lock([pending.pk, payable.pk])}
    whole, _carried = micros_to_minor(Micros(locked[pending.pk].balance_micros, currency))
    if whole.amount <= 0:
        return None
    moved = whole.to_micros()
    return ledger_post(
        source_key=source_key,
        legs=[Leg(account=pending, amount=-moved), Leg(account=payable, amount=moved)],
        actor=actor,
        memo=f"Pending to payable ({whole.amount} minor units of {currency})",
        at=at,
    )


__all__ = [
    "AlsoWrite",
    "Leg",
    "ledger_account_get_or_create",
    "ledger_account_key",
    "ledger_person_accounts_get_or_create",
    "ledger_post",
    "ledger_release_to_payable",
    "ledger_reverse",
    "ledger_writes_run",
]
