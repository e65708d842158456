"""Payout runs: every write of a run and its items, and the ledger moves they make.

The life of a run: `payout_run_create` (finance) makes a draft and queues its freeze;
`payout_run_freeze` adds, batch by batch, an item for each person a run can pay (payable at
least the minimum, a ready payout account of the run's provider and currency, no hold) and an
exclusion with the reason for everyone else with a payable balance, moving each batch's amounts
payable -> in transit in one ledger transaction. A second finance user approves
(`payout_run_approve`; both with MFA); until then `payout_run_cancel` returns everything to
payable (the freeze postings are reversed). Approval queues `payout_run_dispatch`, which queues
one `payout_item_execute` per item on the `payouts` queue (a Stripe run) or puts the items in
the bank file (a bank-file run, marked paid or failed by finance).

Outcomes without doubt (`payout_item_execute`): the item is claimed under its row lock, the
provider is called with the attempt's idempotency key, and the answer is recorded under the lock
again. Succeeded: in transit -> paid. Failed (a 4xx: no connected account, transfers not
enabled, insufficient platform balance): in transit -> payable, with the provider's message.
Ambiguous (no answer, 5xx, the worker died between the call and the record): retried later with
the SAME key while the provider keeps keys, and after that settled from the provider's list of
the run's transfers (`payout_run_settle_from_provider`). Only finance makes a new attempt (a new
key), for a failed or returned item (`payout_item_retry`).

Later (webhooks): a transfer reversed at Stripe returns each reversal's amount to payable once,
by its reversal id, with the reason; a connected account's payout to the bank that failed makes
Quorum reverse the transfers that payout carried (key: item and payout) and return them the
same way, or, when Stripe refuses the reversal, record it on the item for finance and leave the
money with the connected account (counted paid). Each is a PayoutReversal of the item.

Ledger source keys: payout_run:<run>:freeze:<first account pk of the batch>;
payout_item:<item>:attempt:<n>:(frozen|paid|failed); payout_item:<item>:reversal:<trr_...>:returned
(one per Stripe reversal). Locks: the run
row, then (freeze, retry) the person accounts in ascending pk, then the source key (keys of a
run are posted only under its run or item lock, so no other writer holds them); item outcomes
lock the item row and then post (the ledger's order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, cast

from celery import current_app
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Model, OuterRef, Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.policy import Action, can
from accounts.selectors import user_has_mfa
from core.audit import audit_record, snapshot
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.statements import statement_rows
from kit.money import Micros, MoneyError, currency_exponent, micros_per_minor
from payments.lock_objects import person_accounts_lock
from payments.models import (
    OPEN_RUN_STATUSES,
    SETTLED_ITEM_STATUSES,
    AccountKind,
    LedgerAccount,
    LedgerTransaction,
    PayoutExclusion,
    PayoutItem,
    PayoutItemStatus,
    PayoutProvider,
    PayoutReversal,
    PayoutReversalStatus,
    PayoutRun,
    PayoutRunStatus,
    StripeEvent,
)
from payments.providers import TransferOutcome, TransferRequest, payout_provider_for
from payments.providers.stripe import (
    StripeReversal,
    stripe_payout_transfers,
    stripe_transfer_of,
    stripe_transfer_retrieve,
    stripe_transfer_reversals,
    stripe_transfer_reverse,
)
from payments.selectors.payout_runs import (
    minor_display,
    payout_candidates_judge,
    payout_minimum_minor,
    payout_run_differences,
)
from payments.selectors.rates import model_values_converted
from payments.services.ledger import (
    Leg,
    ledger_account_get_or_create,
    ledger_account_key,
    ledger_person_accounts_get_or_create,
    ledger_post,
    ledger_reverse,
)
from workforce.services.notifications import notify

logger = logging.getLogger(__name__)

PAYOUT_RUN_FREEZE_TASK = "payments.tasks.payout_run_freeze"
PAYOUT_RUN_DISPATCH_TASK = "payments.tasks.payout_run_dispatch"
PAYOUT_ITEM_EXECUTE_TASK = "payments.tasks.payout_item_execute"
FREEZE_BATCH = 500
DISPATCH_BATCH = 1000
# A claimed attempt that has not recorded its outcome after this long is taken as a worker that
# died mid-call: its item is ambiguous and is retried with the same key.
PROCESSING_LEASE = timedelta(minutes=5)
# Waits before retrying an ambiguous item (after the 1st, 2nd... ambiguous call; the last repeats).
AMBIGUOUS_RETRY_SECONDS = (15, 60, 300, 900, 3600)
WAITING_STATUSES = (
    PayoutItemStatus.PENDING,
    PayoutItemStatus.PROCESSING,
    PayoutItemStatus.AMBIGUOUS,
)
RUN_FIELDS = ["status", "item_count", "excluded_count", "frozen_total_minor"]


def _enqueue(task_name: str, *args: Any, countdown: float | None = None) -> None:
    if task_name not in current_app.tasks:
        current_app.autodiscover_tasks(force=True)
    task = current_app.tasks[task_name]
    if countdown is None:
        task.apply_async(args=args)
    else:
        task.apply_async(args=args, countdown=countdown)


def payout_runs_finance_require(user: User, *, field: str = "actor") -> None:
    """Finance only, and with a second factor set up (whoever they are, whatever the door)."""
    if not can(user, Action.PAYOUT_RUNS_MANAGE):
        raise PermissionDenied("Only finance may do this to payout runs.")
    if not user_has_mfa(user):
        raise PermissionDenied(
            "Set up two-factor authentication first: payout runs need it of everyone who "
            "creates or approves them.",
            code="mfa_required",
        )


def payout_run_get_for_update(run_id: int) -> PayoutRun:
    """Lock and return the run (NotFound if there is none); a run is locked before its items."""
    run = PayoutRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None:
        raise NotFound("No such payout run.")
    return run


# The item with its run and person, as select_for_update(of=("self",)).select_related("run",
# "person") reads them: a fixed statement, prepared once per connection on PostgreSQL (the ORM
# built the query and its three objects anew twice per paid item, 1.7 ms against 0.2 ms).
_ITEM_LOCK_MODELS: tuple[tuple[str, type[Model]], ...] = (
    ("i", PayoutItem),
    ("r", PayoutRun),
    ("u", User),
)


_ITEM_LOCK_SQL: dict[str, str] = {}


def _item_lock_statement() -> str:
    found = _ITEM_LOCK_SQL.get(connection.vendor)
    if found is not None:
        return found
    columns = ", ".join(
        f'{alias}."{field.column}" AS "{alias}_{field.column}"'
        for alias, model in _ITEM_LOCK_MODELS
        for field in model._meta.concrete_fields
    )
    sql = (
        f"SELECT {columns} FROM {PayoutItem._meta.db_table} i "  # noqa: S608  (names, no values)
        f"JOIN {PayoutRun._meta.db_table} r ON r.id = i.run_id "
        f"JOIN {User._meta.db_table} u ON u.id = i.person_id "
        "WHERE i.id = %(item)s"
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE OF i"
    _ITEM_LOCK_SQL[connection.vendor] = sql
    return sql


def _item_lock(item_id: int) -> PayoutItem:
    """Lock the item's row (not its run's or person's) and return it with its run and person;
    NotFound if there is none."""
    rows = statement_rows(
        _item_lock_statement(),
        arguments={"item": "bigint"},
        values={"item": item_id},
        owner="payments",
    )
    if not rows:
        raise NotFound("No such payout item.")
    values, objects = list(rows[0]), []
    for _alias, model in _ITEM_LOCK_MODELS:
        fields = model._meta.concrete_fields
        own, values = values[: len(fields)], values[len(fields) :]
        names = [field.attname for field in fields]
        objects.append(model.from_db(connection.alias, names, model_values_converted(model, own)))
    item, run, person = (
        cast(PayoutItem, objects[0]),
        cast(PayoutRun, objects[1]),
        cast(User, objects[2]),
    )
    item.run, item.person = run, person
    return item


def _person_account(kind: str, currency: str, user_id: int) -> LedgerAccount:
    existing = LedgerAccount.objects.filter(
        key=ledger_account_key(kind=kind, currency=currency, user_id=user_id)
    ).first()
    if existing is not None:
        return existing
    return ledger_account_get_or_create(
        kind=kind, currency=currency, user=User.objects.get(pk=user_id)
    )


def _person_accounts(kinds: list[str], currency: str, person: User) -> dict[str, LedgerAccount]:
    """The person's accounts of `kinds` in `currency` by kind: one read when they exist (the
    freeze opened them), each missing one opened as `ledger_account_get_or_create` does."""
    keys = {
        ledger_account_key(kind=kind, currency=currency, user_id=person.pk): kind for kind in kinds
    }
    found = {keys[a.key]: a for a in LedgerAccount.objects.filter(key__in=list(keys))}
    for kind in kinds:
        if kind not in found:
            found[kind] = ledger_account_get_or_create(kind=kind, currency=currency, user=person)
    return found


def _minor(amount_minor: int, currency: str) -> Micros:
    return Micros(amount_minor * micros_per_minor(currency), currency)


# --- Create, freeze ------------------------------------------------------------------------


@transaction.atomic
def payout_run_create(
    *,
    actor: User,
    currency: str,
    period_start: date,
    period_end: date,
    provider: str,
) -> PayoutRun:
    """Make a draft run and queue its freeze (which runs at once when Celery is eager).

    Raises PermissionDenied (not finance, or no MFA), ValidationFailed naming the field (an
    unknown currency or provider, a period that ends before it starts) and Conflict when a run of
    this currency and provider is still open (two runs would freeze the same balances).
    """
    payout_runs_finance_require(actor)
    currency = (currency or "").strip().upper()
    try:
        currency_exponent(currency)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), fields={"currency": [str(exc)]}) from None
    if provider not in PayoutProvider.values:
        message = f"Use one of {', '.join(PayoutProvider.values)}."
        raise ValidationFailed("Unknown payout provider.", fields={"provider": [message]})
    if period_end < period_start:
        message = "The period ends before it starts."
        raise ValidationFailed(message, fields={"period_end": [message]})
    open_run = PayoutRun.objects.filter(
        currency=currency, provider=provider, status__in=OPEN_RUN_STATUSES
    ).first()
    if open_run is not None:
        raise Conflict(
            f"Payout run {open_run.pk} of {currency} by {PayoutProvider(provider).label} is still "
            "open; finish or cancel it first.",
            extra={"fields": {"currency": ["A run of this currency and provider is open."]}},
        )
    try:
        with transaction.atomic():
            run = PayoutRun.objects.create(
                currency=currency,
                period_start=period_start,
                period_end=period_end,
                provider=provider,
                created_by=actor,
                minimum_minor=payout_minimum_minor(currency),
                freeze_candidates=LedgerAccount.objects.filter(
                    kind=AccountKind.PAYABLE, currency=currency, balance_micros__gt=0
                ).count(),
            )
    except IntegrityError:
        raise Conflict(
            f"Another {currency} run by {PayoutProvider(provider).label} was created meanwhile."
        ) from None
    run.transfer_group = f"quorum-payout-run-{run.pk}"
    run.save(update_fields=["transfer_group"])
    audit_record(
        actor=actor,
        action="payout_run.create",
        target=run,
        after=snapshot(
            run, ["currency", "period_start", "period_end", "provider", "minimum_minor"]
        ),
    )
    transaction.on_commit(partial(_enqueue, PAYOUT_RUN_FREEZE_TASK, run.pk))
    return run


def payout_run_freeze(
    *, run_id: int, batch_size: int = FREEZE_BATCH, at: datetime | None = None
) -> PayoutRun:
    """Freeze a draft run batch by batch (one transaction each, constant memory) until every
    person with a payable balance is an item or an exclusion; then the run is frozen.

    Safe to run twice or after a crash: each batch commits with the cursor that says where the
    next one starts. A run that is no longer a draft (cancelled meanwhile) stops. Call it
    outside a transaction.
    """
    while True:
        run, more = _freeze_batch(run_id, batch_size, at or timezone.now())
        if not more:
            return run


@transaction.atomic
def _freeze_batch(run_id: int, batch_size: int, at: datetime) -> tuple[PayoutRun, bool]:
    run = payout_run_get_for_update(run_id)
    if run.status != PayoutRunStatus.DRAFT:
        return run, False
    batch = list(
        LedgerAccount.objects.filter(
            kind=AccountKind.PAYABLE,
            currency=run.currency,
            pk__gt=run.freeze_cursor,
            balance_micros__gt=0,
        )
        .order_by("pk")
        .values_list("pk", "user_id")[:batch_size]
    )
    if not batch:
        run.status = PayoutRunStatus.FROZEN
        run.frozen_at = timezone.now()
        run.save(update_fields=["status", "frozen_at"])
        audit_record(
            actor=run.created_by,
            action="payout_run.freeze",
            target=run,
            after=snapshot(run, RUN_FIELDS),
        )
        return run, False
    user_ids = [user_id for _pk, user_id in batch if user_id is not None]
    judged = payout_candidates_judge(
        user_ids=user_ids, currency=run.currency, provider=run.provider, at=at
    )
    paid_to = [user_id for user_id in user_ids if judged[user_id].payable]
    in_transit = ledger_person_accounts_get_or_create(
        kind=AccountKind.IN_TRANSIT, currency=run.currency, user_ids=paid_to
    )
    # Opened here for the batch at once, so that paying an item finds its accounts by one read
    # and never opens one (the item's task pays a single person, many times over).
    ledger_person_accounts_get_or_create(
        kind=AccountKind.PAID, currency=run.currency, user_ids=paid_to
    )
    # Balances read under the lock of every account the batch moves, in ascending pk.
    locked = person_accounts_lock([pk for pk, _ in batch] + [a.pk for a in in_transit.values()])
    payable = {a.user_id: a for a in locked if a.kind == AccountKind.PAYABLE}
    step = micros_per_minor(run.currency)
    legs: list[Leg] = []
    items: list[PayoutItem] = []
    exclusions: list[PayoutExclusion] = []
    for user_id in user_ids:
        account = payable.get(user_id)
        if account is None:
            continue
        amount_minor = account.balance_micros // step
        if amount_minor <= 0:
            continue
        candidate = judged[user_id]
        if not candidate.payable:
            code, reason = candidate.code, candidate.reason
        elif amount_minor < run.minimum_minor:
            code, reason = (
                "below_minimum",
                (
                    f"Payable {minor_display(amount_minor, run.currency)} is below the minimum "
                    f"payout of {minor_display(run.minimum_minor, run.currency)}."
                ),
            )
        else:
            code = reason = ""
        if code:
            exclusions.append(
                PayoutExclusion(
                    run=run, person_id=user_id, payable_minor=amount_minor, code=code, reason=reason
                )
            )
            continue
        amount = _minor(amount_minor, run.currency)
        legs += [
            Leg(account=account, amount=-amount),
            Leg(account=in_transit[user_id], amount=amount),
        ]
        items.append(
            PayoutItem(
                run=run,
                person_id=user_id,
                amount_minor=amount_minor,
                destination=candidate.destination,
            )
        )
    if legs:
        ledger_post(
            source_key=f"payout_run:{run.pk}:freeze:{batch[0][0]}",
            legs=legs,
            actor=run.created_by,
            memo=f"Payout run {run.pk}: payable to in transit ({len(items)} people)",
        )
    PayoutItem.objects.bulk_create(items)
    PayoutExclusion.objects.bulk_create(exclusions)
    run.freeze_cursor = batch[-1][0]
    run.freeze_looked_at += len(batch)
    run.item_count += len(items)
    run.excluded_count += len(exclusions)
    run.frozen_total_minor += sum(item.amount_minor for item in items)
    run.save(
        update_fields=[
            "freeze_cursor",
            "freeze_looked_at",
            "item_count",
            "excluded_count",
            "frozen_total_minor",
        ]
    )
    return run, True


# --- Approve, cancel, dispatch -------------------------------------------------------------


@transaction.atomic
def payout_run_approve(*, run_id: int, actor: User) -> PayoutRun:
    """Approve a frozen run as the second pair of eyes, and queue its payment.

    Raises PermissionDenied when `actor` is not finance, has no MFA, or created the run, or when
    the creator has no MFA any more; Conflict when the run is not frozen. Audited.
    """
    payout_runs_finance_require(actor)
    run = payout_run_get_for_update(run_id)
    if run.created_by_id == actor.pk:
        raise PermissionDenied(
            "You created this run; a second finance user must approve it.", code="four_eyes"
        )
    if run.status != PayoutRunStatus.FROZEN:
        raise Conflict(
            f"Only a frozen run can be approved; this one is {run.get_status_display().lower()}."
        )
    if not user_has_mfa(run.created_by):
        raise PermissionDenied(
            "The run's creator has no two-factor authentication; their run cannot be approved.",
            code="mfa_required",
        )
    before = snapshot(run, ["status"])
    run.status = PayoutRunStatus.APPROVED
    run.approved_by = actor
    run.approved_at = timezone.now()
    run.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(
        actor=actor,
        action="payout_run.approve",
        target=run,
        before=before,
        after=snapshot(run, [*RUN_FIELDS, "created_by", "approved_by"]),
    )
    transaction.on_commit(partial(_enqueue, PAYOUT_RUN_DISPATCH_TASK, run.pk))
    return run


def payout_run_dispatch(*, run_id: int) -> PayoutRun:
    """Start paying an approved run: queue one task per waiting item (Stripe) or put every
    item in the bank file (bank file). Safe to run twice: the item tasks re-check everything."""
    with transaction.atomic():
        run = payout_run_get_for_update(run_id)
        if run.status not in (PayoutRunStatus.APPROVED, PayoutRunStatus.EXECUTING):
            return run
        provider = payout_provider_for(run.provider)
        run.status = PayoutRunStatus.EXECUTING
        run.save(update_fields=["status"])
        if not provider.executes_itself:
            run.items.filter(status=PayoutItemStatus.PENDING).update(
                status=PayoutItemStatus.AWAITING_BANK_FILE
            )
    if provider.executes_itself:
        last = 0
        while True:
            ids = list(
                PayoutItem.objects.filter(run_id=run.pk, pk__gt=last, status__in=WAITING_STATUSES)
                .order_by("pk")
                .values_list("pk", flat=True)[:DISPATCH_BATCH]
            )
            if not ids:
                break
            for item_id in ids:
                _enqueue(PAYOUT_ITEM_EXECUTE_TASK, item_id)
            last = ids[-1]
    _run_finish_if_settled(run.pk)
    run.refresh_from_db()
    return run


@transaction.atomic
def payout_run_cancel(*, run_id: int, actor: User, reason: str) -> PayoutRun:
    """Cancel a run before approval: every frozen amount goes back to payable (the freeze
    postings are reversed) and its items are cancelled. Raises Conflict once approved."""
    payout_runs_finance_require(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why the run is cancelled.", fields={"reason": ["This field is required."]}
        )
    run = payout_run_get_for_update(run_id)
    if run.status not in (PayoutRunStatus.DRAFT, PayoutRunStatus.FROZEN):
        raise Conflict(
            f"Only a run not yet approved can be cancelled; this one is "
            f"{run.get_status_display().lower()}."
        )
    before = snapshot(run, ["status"])
    postings = LedgerTransaction.objects.filter(
        source_key__startswith=f"payout_run:{run.pk}:freeze:", reverses__isnull=True
    ).order_by("pk")
    for posting in postings.iterator():
        ledger_reverse(
            transaction=posting,
            reason=f"Payout run {run.pk} cancelled: {reason}"[:500],
            actor=actor,
        )
    now = timezone.now()
    run.items.update(
        status=PayoutItemStatus.CANCELLED, settled_at=now, provider_message=reason[:1000]
    )
    run.status = PayoutRunStatus.CANCELLED
    run.cancelled_by = actor
    run.cancelled_at = now
    run.save(update_fields=["status", "cancelled_by", "cancelled_at"])
    audit_record(
        actor=actor,
        action="payout_run.cancel",
        target=run,
        before=before,
        after={**snapshot(run, RUN_FIELDS), "reason": reason},
    )
    return run


def _run_finish_if_settled(run_id: int) -> None:
    """Mark an executing run done when no item waits any more (one statement: the last item's
    transaction, after it commits, sees every other one)."""
    # Named statuses, not "not settled": the (run, status) index finds them without a scan.
    unsettled = PayoutItem.objects.filter(
        run_id=OuterRef("pk"),
        status__in=[s for s in PayoutItemStatus.values if s not in SETTLED_ITEM_STATUSES],
    )
    PayoutRun.objects.filter(pk=run_id, status=PayoutRunStatus.EXECUTING).exclude(
        Exists(unsettled)
    ).update(status=PayoutRunStatus.DONE, done_at=timezone.now())


# --- Executing an item ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    request: TransferRequest | None
    settle_from_provider: bool


def _claim(item_id: int, now: datetime) -> tuple[PayoutItem, _Claim | None]:
    with transaction.atomic():
        item = _item_lock(item_id)
        run = item.run
        if run.status != PayoutRunStatus.EXECUTING or item.status not in WAITING_STATUSES:
            return item, None
        if (
            item.status == PayoutItemStatus.PROCESSING
            and item.processing_since is not None
            and item.processing_since > now - PROCESSING_LEASE
        ):
            return item, None  # another worker's call is in flight
        if item.status == PayoutItemStatus.AMBIGUOUS and (
            item.next_attempt_at is not None and item.next_attempt_at > now
        ):
            return item, None  # not due yet
        provider = payout_provider_for(run.provider)
        if not provider.executes_itself:
            return item, None
        if (
            item.key_first_used_at is not None
            and now - item.key_first_used_at >= provider.key_window
        ):
            return item, _Claim(None, settle_from_provider=True)
        item.status = PayoutItemStatus.PROCESSING
        item.processing_since = now
        item.key_first_used_at = item.key_first_used_at or now
        item.calls += 1  # the row is locked: no other writer
        item.save(
            update_fields=["status", "processing_since", "key_first_used_at", "calls", "updated_at"]
        )
        request = TransferRequest(
            item_id=item.pk,
            run_id=run.pk,
            person_id=item.person_id,
            amount_minor=item.amount_minor,
            currency=run.currency,
            destination=item.destination,
            transfer_group=run.transfer_group,
            idempotency_key=item.idempotency_key,
            description=f"Quorum payout run {run.pk} ({run.period_start}..{run.period_end})",
        )
        return item, _Claim(request, settle_from_provider=False)


def payout_item_execute(*, item_id: int, now: datetime | None = None) -> PayoutItem:
    """Pay one item attempt, once: claim it under its row lock, call the provider with the
    attempt's idempotency key outside any transaction, record the outcome under the lock.

    Does nothing to an item that is settled, in flight elsewhere (claimed less than
    PROCESSING_LEASE ago), ambiguous and not yet due, or of a run that is not executing. An
    attempt whose key the provider may have forgotten is settled from the provider's transfers
    instead of being called again. Safe to run twice and concurrently.
    """
    now = now or timezone.now()
    item, claim = _claim(item_id, now)
    if claim is None:
        return item
    if claim.settle_from_provider or claim.request is None:
        return payout_run_settle_from_provider(run_id=item.run_id, item_ids=[item.pk], now=now)[0]
    outcome = payout_provider_for(item.run.provider).transfer(claim.request)
    return payout_item_record_outcome(
        item_id=item.pk, attempt=item.attempt, outcome=outcome, now=now
    )


def _retry_delay(calls: int) -> timedelta:
    index = min(max(calls, 1), len(AMBIGUOUS_RETRY_SECONDS)) - 1
    return timedelta(seconds=AMBIGUOUS_RETRY_SECONDS[index])


def payout_item_record_outcome(
    *, item_id: int, attempt: int, outcome: TransferOutcome, now: datetime | None = None
) -> PayoutItem:
    """Record the provider's answer to an attempt (under the item's lock). An answer to an
    attempt that is no longer current, or to an item settled meanwhile (a webhook, the provider's
    list), changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        item = _item_lock(item_id)
        if item.attempt != attempt or item.status not in (
            PayoutItemStatus.PROCESSING,
            PayoutItemStatus.AMBIGUOUS,
        ):
            return item
        if outcome.kind == "succeeded":
            _item_succeed(item, reference=outcome.reference, actor=None, now=now)
        elif outcome.kind == "failed":
            _item_fail(item, message=outcome.message, actor=None, now=now)
        else:
            item.status = PayoutItemStatus.AMBIGUOUS
            item.provider_message = outcome.message[:1000]
            item.processing_since = None
            item.next_attempt_at = now + _retry_delay(item.calls)
            item.save(
                update_fields=[
                    "status",
                    "provider_message",
                    "processing_since",
                    "next_attempt_at",
                    "updated_at",
                ]
            )
            logger.warning("Payout item %s: ambiguous outcome: %s", item.pk, outcome.message)
            countdown = (item.next_attempt_at - now).total_seconds()
            transaction.on_commit(
                partial(_enqueue, PAYOUT_ITEM_EXECUTE_TASK, item.pk, countdown=countdown)
            )
        transaction.on_commit(partial(_run_finish_if_settled, item.run_id))
    return item


def _notify_person(item: PayoutItem, title: str, body: str) -> None:
    notify(
        user=item.person, kind="payout", title=title, body=body, url=reverse("payments:my_payouts")
    )


def _item_settle(
    item: PayoutItem,
    *,
    outcome: str,
    to_kind: str,
    status: str,
    memo: str,
    provider_fields: dict[str, str],
    actor: User | None,
    now: datetime,
) -> None:
    """Move the item's amount out of the person's in-transit account into `to_kind` (once per
    attempt and outcome), give the item its final `status` and the provider's answer
    (`provider_fields`), and audit it as `payout_item.<outcome>`. The caller holds its lock."""
    run = item.run
    before = snapshot(item, ["status", "attempt"])
    amount = _minor(item.amount_minor, run.currency)
    accounts = _person_accounts([AccountKind.IN_TRANSIT, to_kind], run.currency, item.person)
    ledger_post(
        source_key=f"payout_item:{item.pk}:attempt:{item.attempt}:{outcome}",
        legs=[
            Leg(account=accounts[AccountKind.IN_TRANSIT], amount=-amount),
            Leg(account=accounts[to_kind], amount=amount),
        ],
        actor=actor,
        memo=memo[:500],
        at=now,
        # The item's own audit record below (before, after, amount) records this move; a
        # finance user's (actor) posting is audited by the ledger as well.
        audited=False,
    )
    for name, value in provider_fields.items():
        setattr(item, name, value)
    item.status = status
    item.processing_since = None
    item.next_attempt_at = None
    item.settled_at = now
    item.save(
        update_fields=[
            *provider_fields,
            "status",
            "processing_since",
            "next_attempt_at",
            "settled_at",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        action=f"payout_item.{outcome}",
        target=item,
        before=before,
        after=snapshot(item, ["status", "attempt", *provider_fields, "amount_minor"]),
    )


def _item_succeed(item: PayoutItem, *, reference: str, actor: User | None, now: datetime) -> None:
    _item_settle(
        item,
        outcome="paid",
        to_kind=AccountKind.PAID,
        status=PayoutItemStatus.SUCCEEDED,
        memo=f"Payout item {item.pk} paid ({reference})",
        provider_fields={"provider_reference": reference[:255], "provider_message": ""},
        actor=actor,
        now=now,
    )
    display = minor_display(item.amount_minor, item.run.currency)
    _notify_person(
        item,
        f"Payout of {display} sent",
        f"Your payout of {display} from payout run {item.run_id} left Quorum (reference "
        f"{reference}).",
    )


def _item_fail(item: PayoutItem, *, message: str, actor: User | None, now: datetime) -> None:
    _item_settle(
        item,
        outcome="failed",
        to_kind=AccountKind.PAYABLE,
        status=PayoutItemStatus.FAILED,
        memo=f"Payout item {item.pk} failed: back to payable",
        provider_fields={
            "provider_message": (message or "The provider refused the payout.")[:1000]
        },
        actor=actor,
        now=now,
    )
    display = minor_display(item.amount_minor, item.run.currency)
    _notify_person(
        item,
        f"Payout of {display} failed",
        f"Your payout of {display} could not be made: {item.provider_message} The amount is "
        "back in your payable balance and will be paid in a later run.",
    )


def payout_run_settle_from_provider(
    *, run_id: int, item_ids: list[int] | None = None, now: datetime | None = None
) -> list[PayoutItem]:
    """Settle ambiguous items (and items whose worker died mid-call) from what the provider did:
    an item with a transfer in the run's group (its metadata names the item) succeeded; an item
    without one failed if its key may be forgotten, and is otherwise left to be retried with the
    same key. Lists the provider's transfers once. Returns the items looked at."""
    now = now or timezone.now()
    run = PayoutRun.objects.get(pk=run_id)
    provider = payout_provider_for(run.provider)
    if not provider.executes_itself:
        return []
    waiting = PayoutItem.objects.filter(
        run_id=run_id, status__in=[PayoutItemStatus.AMBIGUOUS, PayoutItemStatus.PROCESSING]
    )
    if item_ids is not None:
        waiting = PayoutItem.objects.filter(run_id=run_id, pk__in=item_ids)
    wanted = set(waiting.values_list("pk", flat=True))
    if not wanted:
        return list(waiting)
    found: dict[int, str] = {}
    for transfer in provider.transfers_of_group(run.transfer_group):
        if transfer.item_id in wanted and transfer.amount_minor > 0:
            found.setdefault(transfer.item_id, transfer.reference)
    settled: list[PayoutItem] = []
    for item_id in sorted(wanted):
        with transaction.atomic():
            item = _item_lock(item_id)
            in_flight = (
                item.status == PayoutItemStatus.PROCESSING
                and item.processing_since is not None
                and item.processing_since > now - PROCESSING_LEASE
            )
            if (
                item.status not in (PayoutItemStatus.AMBIGUOUS, PayoutItemStatus.PROCESSING)
                or in_flight
            ):
                settled.append(item)
                continue
            if item_id in found:
                _item_succeed(item, reference=found[item_id], actor=None, now=now)
            elif item.key_first_used_at is not None and (
                now - item.key_first_used_at >= provider.key_window
            ):
                _item_fail(
                    item,
                    message="The provider made no transfer for this payout (checked after its "
                    "idempotency key expired).",
                    actor=None,
                    now=now,
                )
            settled.append(item)
        _run_finish_if_settled(run_id)
    return settled


def payout_items_due(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """The items a sweep should execute now: ambiguous items due for their retry, and items
    whose worker died mid-call (claimed longer than PROCESSING_LEASE ago)."""
    now = now or timezone.now()
    ambiguous = PayoutItem.objects.filter(
        status=PayoutItemStatus.AMBIGUOUS,
        next_attempt_at__lte=now,
        run__status=PayoutRunStatus.EXECUTING,
    ).values_list("pk", flat=True)[:limit]
    stale = PayoutItem.objects.filter(
        status=PayoutItemStatus.PROCESSING,
        processing_since__lte=now - PROCESSING_LEASE,
        run__status=PayoutRunStatus.EXECUTING,
    ).values_list("pk", flat=True)[:limit]
    return sorted(set(ambiguous) | set(stale))


# --- Finance's hand: retry, bank file ----------------------------------------------------------


@transaction.atomic
def payout_item_retry(*, item_id: int, actor: User) -> PayoutItem:
    """Make a new attempt (with a new idempotency key) at a failed or returned item, moving its
    amount from payable back to in transit. Raises Conflict when the item is not failed or
    returned, or the person's payable balance no longer holds the amount."""
    payout_runs_finance_require(actor)
    item = _item_lock(item_id)
    run = item.run
    if item.status not in (PayoutItemStatus.FAILED, PayoutItemStatus.RETURNED):
        raise Conflict("Only a failed or returned payout can be retried.")
    if item.status == PayoutItemStatus.RETURNED and _returned_minor(item) < item.amount_minor:
        # The rest of its transfer stays paid at Stripe; a new transfer of the whole amount
        # would pay that part twice. What came back is payable and a later run pays it.
        raise Conflict(
            f"Only {minor_display(_returned_minor(item), run.currency)} of this payout of "
            f"{minor_display(item.amount_minor, run.currency)} came back; it cannot be retried. "
            "What came back is in the person's payable balance and a later run pays it."
        )
    if run.status not in (PayoutRunStatus.EXECUTING, PayoutRunStatus.DONE):
        raise Conflict("Only items of an approved run can be retried.")
    payable = _person_account(AccountKind.PAYABLE, run.currency, item.person_id)
    in_transit = _person_account(AccountKind.IN_TRANSIT, run.currency, item.person_id)
    locked = {a.pk: a for a in person_accounts_lock([payable.pk, in_transit.pk])}
    amount = _minor(item.amount_minor, run.currency)
    if locked[payable.pk].balance_micros < amount.amount:
        raise Conflict(
            f"The person's payable balance is below {minor_display(item.amount_minor, run.currency)} "
            "now (paid in another run?); this item cannot be retried."
        )
    before = snapshot(item, ["status", "attempt", "provider_reference", "provider_message"])
    item.attempt += 1
    ledger_post(
        source_key=f"payout_item:{item.pk}:attempt:{item.attempt}:frozen",
        legs=[Leg(account=payable, amount=-amount), Leg(account=in_transit, amount=amount)],
        actor=actor,
        memo=f"Payout item {item.pk} retried (attempt {item.attempt}): payable to in transit",
    )
    provider = payout_provider_for(run.provider)
    item.status = (
        PayoutItemStatus.PENDING
        if provider.executes_itself
        else PayoutItemStatus.AWAITING_BANK_FILE
    )
    item.key_first_used_at = item.processing_since = item.next_attempt_at = item.settled_at = None
    item.provider_reference = item.provider_message = ""
    item.save()
    try:
        with transaction.atomic():
            PayoutRun.objects.filter(pk=run.pk, status=PayoutRunStatus.DONE).update(
                status=PayoutRunStatus.EXECUTING, done_at=None
            )
    except IntegrityError:
        # Reopening the run would make two open runs of this currency and provider.
        raise Conflict(
            f"Another {run.currency} run by {run.get_provider_display()} is open; retry this "
            "item once that run is done, or pay the person in it."
        ) from None
    audit_record(
        actor=actor,
        action="payout_item.retry",
        target=item,
        before=before,
        after=snapshot(item, ["status", "attempt"]),
    )
    if provider.executes_itself:
        transaction.on_commit(partial(_enqueue, PAYOUT_ITEM_EXECUTE_TASK, item.pk))
    return item


def _bank_file_item(item_id: int, actor: User) -> PayoutItem:
    payout_runs_finance_require(actor)
    item = _item_lock(item_id)
    if item.status != PayoutItemStatus.AWAITING_BANK_FILE:
        raise Conflict("Only an item waiting in the bank file can be marked paid or failed.")
    return item


@transaction.atomic
def payout_item_mark_paid(*, item_id: int, actor: User, reference: str = "") -> PayoutItem:
    """Finance marks a bank-file item paid from the bank's report: in transit -> paid."""
    item = _bank_file_item(item_id, actor)
    _item_succeed(
        item,
        reference=reference.strip() or f"bank-file-run-{item.run_id}",
        actor=actor,
        now=timezone.now(),
    )
    transaction.on_commit(partial(_run_finish_if_settled, item.run_id))
    return item


@transaction.atomic
def payout_item_mark_failed(*, item_id: int, actor: User, reason: str) -> PayoutItem:
    """Finance marks a bank-file item failed with the bank's reason: in transit -> payable."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Give the bank's reason.", fields={"reason": ["This field is required."]}
        )
    item = _bank_file_item(item_id, actor)
    _item_fail(item, message=reason, actor=actor, now=timezone.now())
    transaction.on_commit(partial(_run_finish_if_settled, item.run_id))
    return item


# --- Webhooks: a transfer reversed, a payout failed ----------------------------------------------
#
# One rule: money comes back from paid to payable once per Stripe transfer reversal (trr_...),
# under the ledger key payout_item:<item>:reversal:<trr>:returned and a PayoutReversal row
# unique on the reversal id, whichever of the two handlers sees the reversal first. Both lock
# the item before they write.


def _returned_minor(item: PayoutItem) -> int:
    """What has come back to payable of `item`'s current attempt (its transfer), all reversals
    together."""
    total = item.reversals.filter(
        status=PayoutReversalStatus.RETURNED, attempt=item.attempt
    ).aggregate(s=Sum("amount_minor"))["s"]
    return int(total or 0)


def _reversal_return(
    item: PayoutItem,
    *,
    reversal: StripeReversal,
    payout: str,
    reason: str,
    now: datetime,
) -> PayoutReversal | None:
    """Return what Stripe's `reversal` took back of `item`'s transfer from paid to payable and
    mark the item returned with `reason` and the total returned; None when this reversal was
    already returned (a repeat, or the other handler first). The caller holds the item's lock."""
    if PayoutReversal.objects.filter(stripe_reversal=reversal.reference).exists():
        return None
    run = item.run
    returned_before = _returned_minor(item)
    # A transfer is the item's amount, so its reversals never exceed it; the cap keeps a
    # mistake at Stripe from returning more than was paid.
    amount = min(reversal.amount_minor, item.amount_minor - returned_before)
    if amount <= 0:
        logger.error(
            "Payout item %s: Stripe reversal %s of %s goes beyond the item's amount; not returned",
            item.pk,
            reversal.reference,
            reversal.amount_minor,
        )
        return None
    money = _minor(amount, run.currency)
    ledger_post(
        source_key=f"payout_item:{item.pk}:reversal:{reversal.reference}:returned",
        legs=[
            Leg(
                account=_person_account(AccountKind.PAID, run.currency, item.person_id),
                amount=-money,
            ),
            Leg(
                account=_person_account(AccountKind.PAYABLE, run.currency, item.person_id),
                amount=money,
            ),
        ],
        actor=None,
        memo=f"Payout item {item.pk}: Stripe reversal {reversal.reference} back to payable",
        at=now,
        # The item's audit record below records the move.
        audited=False,
    )
    row = PayoutReversal.objects.create(
        item=item,
        attempt=item.attempt,
        status=PayoutReversalStatus.RETURNED,
        amount_minor=amount,
        stripe_reversal=reversal.reference,
        payout=payout,
        reason=reason[:1000],
    )
    total = returned_before + amount
    before = snapshot(item, ["status", "provider_message"])
    item.status = PayoutItemStatus.RETURNED
    item.provider_message = (
        f"{reason} {minor_display(amount, run.currency)} came back to the payable balance "
        f"(Stripe reversal {reversal.reference}); "
        f"{minor_display(total, run.currency)} of {minor_display(item.amount_minor, run.currency)}"
        " returned in all."
    )[:1000]
    item.save(update_fields=["status", "provider_message", "updated_at"])
    audit_record(
        actor=None,
        action="payout_item.returned",
        target=item,
        before=before,
        after={
            **snapshot(item, ["status", "provider_message"]),
            "returned_minor": amount,
            "stripe_reversal": reversal.reference,
            "payout": payout,
        },
    )
    return row


def payout_transfer_reversed_handle(*, event: StripeEvent, current: dict[str, Any] | None) -> None:
    """transfer.reversed: return each reversal of an item's transfer to payable once, by its
    reversal id, with the reason. The transfer is the one re-fetched now and every reversal it
    has is looked at, so two partial reversals return each part once and a late, repeated or
    out-of-order event changes nothing more. A transfer of an item still waiting for its answer
    proves the item paid first. Runs inside the event's transaction."""
    if current is None:
        return
    transfer = stripe_transfer_of(current)
    group = str(current.get("transfer_group") or "")
    if transfer.item_id is None or not group:
        return
    item = PayoutItem.objects.filter(pk=transfer.item_id, run__transfer_group=group).first()
    if item is None:
        return
    reversals = stripe_transfer_reversals(current)
    item = _item_lock(item.pk)
    now = timezone.now()
    if item.status in WAITING_STATUSES:
        _item_succeed(item, reference=transfer.reference, actor=None, now=now)
    if (
        item.status not in (PayoutItemStatus.SUCCEEDED, PayoutItemStatus.RETURNED)
        or item.provider_reference != transfer.reference
    ):
        return
    currency = item.run.currency
    for reversal in reversals:
        # Quorum's own reversal (a payout to the bank failed) names the item and the payout.
        ours = reversal.metadata.get("quorum_item") == str(item.pk)
        payout = reversal.metadata.get("quorum_payout", "") if ours else ""
        if payout and item.reversals.filter(payout=payout).exists():
            continue  # the payout.failed handler recorded it (returned or refused)
        reason = (
            reversal.metadata.get("quorum_reason", "")
            if ours
            else f"Stripe reversed transfer {transfer.reference}."
        ) or f"Stripe reversed transfer {transfer.reference}."
        row = _reversal_return(item, reversal=reversal, payout=payout, reason=reason, now=now)
        if row is None:
            continue
        display = minor_display(row.amount_minor, currency)
        # Quorum's own reversal recorded here first: its payout.failed handler finds it done.
        cause = reason if payout else "Stripe returned it."
        _notify_person(
            item,
            f"Payout of {display} returned",
            f"{display} of your payout from payout run {item.run_id} came back: {cause} The "
            "amount is back in your payable balance and will be paid in a later run; check your "
            "payout account.",
        )


def _payout_failure_reason(payout: dict[str, Any]) -> str:
    message = str(payout.get("failure_message") or "").strip()
    code = str(payout.get("failure_code") or "").strip()
    if message and code:
        return f"{message} ({code})"
    return message or code or "no reason given"


def _reversal_refuse(
    item: PayoutItem, *, payout: str, amount_minor: int, reason: str, message: str
) -> PayoutReversal | None:
    """Record that Stripe refused to take `amount_minor` of `item` back after `payout` failed:
    the money stays with the connected account and counts as paid; the item says so and the
    run's reconciliation lists it for finance. None when already recorded. The caller holds
    the item's lock."""
    if item.reversals.filter(payout=payout).exists():
        return None
    row = PayoutReversal.objects.create(
        item=item,
        attempt=item.attempt,
        status=PayoutReversalStatus.REFUSED,
        amount_minor=amount_minor,
        payout=payout,
        reason=reason[:1000],
        provider_message=message[:1000],
    )
    before = snapshot(item, ["status", "provider_message"])
    item.provider_message = (
        f"{reason} Stripe refused to take {minor_display(amount_minor, item.run.currency)} back "
        f"from the connected account ({message}); it stays there and counts as paid."
    )[:1000]
    item.save(update_fields=["provider_message", "updated_at"])
    audit_record(
        actor=None,
        action="payout_item.reversal_refused",
        target=item,
        before=before,
        after={
            **snapshot(item, ["status", "provider_message"]),
            "amount_minor": amount_minor,
            "payout": payout,
        },
    )
    logger.error(
        "Payout item %s: Stripe refused to reverse %s after payout %s failed: %s",
        item.pk,
        amount_minor,
        payout,
        message,
    )
    return row


def payout_failed_handle(*, event: StripeEvent, current: dict[str, Any] | None) -> None:
    """payout.failed: Stripe could not pay a connected account's balance to the person's bank,
    and the money came back to that balance. Take back, from the connected account, what the
    payout carried of Quorum's transfers (a reversal per item, with a key of the item and the
    payout) and return it to payable with the bank's reason; tell the person once.

    `current` is the payout re-fetched with the connected account. Which transfers it carried
    is asked of Stripe (the payout's balance transactions). Stripe is called here, inside the
    event's transaction: an unknown outcome raises, nothing is kept, and the event's retry asks
    again with the same keys (Stripe answers what it did). A refused reversal is recorded on
    the item for finance and leaves the money where it is."""
    if current is None or current.get("status") != "failed" or not event.account:
        return
    payout_id = str(current.get("id") or event.object_id)
    reason = f"Your bank refused Stripe's payout {payout_id}: {_payout_failure_reason(current)}."
    carried: dict[str, int] = {}
    # Stripe can say which transactions an automatic payout carried, not a manual one.
    if current.get("automatic", True):
        carried = stripe_payout_transfers(account=event.account, payout_id=payout_id)
    _items_paid_by_carried_transfers(account=event.account, carried=carried)
    items = list(
        PayoutItem.objects.filter(
            destination=event.account,
            provider_reference__in=list(carried),
            status__in=[PayoutItemStatus.SUCCEEDED, PayoutItemStatus.RETURNED],
        ).order_by("pk")
    )
    fresh = [found for found in items if not found.reversals.filter(payout=payout_id).exists()]
    if items and not fresh:
        # A repeat: this payout's reversals are recorded (here, or by their own
        # transfer.reversed first) and the person was told.
        return
    returned = refused = 0
    for found in fresh:
        amount = min(carried[found.provider_reference], found.amount_minor - _returned_minor(found))
        if amount <= 0:
            continue
        outcome = stripe_transfer_reverse(
            transfer_id=found.provider_reference,
            amount_minor=amount,
            idempotency_key=f"quorum-payout-item-{found.pk}-payout-{payout_id}-reversal",
            metadata={
                "quorum_item": str(found.pk),
                "quorum_payout": payout_id,
                "quorum_reason": reason[:500],
            },
            description=f"Quorum payout item {found.pk}: payout {payout_id} failed",
        )
        item = _item_lock(found.pk)
        if outcome.reversal is None:
            refusal = _reversal_refuse(
                item, payout=payout_id, amount_minor=amount, reason=reason, message=outcome.message
            )
            refused += refusal.amount_minor if refusal else 0
            continue
        row = _reversal_return(
            item, reversal=outcome.reversal, payout=payout_id, reason=reason, now=timezone.now()
        )
        if row is None:
            # Its own transfer.reversed recorded it meanwhile (and told the person).
            row = item.reversals.filter(stripe_reversal=outcome.reversal.reference).first()
        returned += row.amount_minor if row else 0
    _payout_failed_notify(event, current, items, reason=reason, returned=returned, refused=refused)


def _items_paid_by_carried_transfers(*, account: str, carried: dict[str, int]) -> None:
    """An item whose worker died between Stripe's transfer and recording it has no transfer id
    yet; a failed payout that carried that transfer proves it paid. Settle such items as paid
    from the transfer (its metadata names the item), as the sweep would, so that the failed
    payout's reversal finds them."""
    known = set(
        PayoutItem.objects.filter(
            destination=account, provider_reference__in=list(carried)
        ).values_list("provider_reference", flat=True)
    )
    for reference in sorted(carried.keys() - known):
        transfer = stripe_transfer_retrieve(reference)
        if transfer.item_id is None:
            continue  # not Quorum's: the reconciliation reports unknown transfers
        waiting = PayoutItem.objects.filter(
            pk=transfer.item_id, destination=account, status__in=WAITING_STATUSES
        ).first()
        if waiting is None:
            continue
        item = _item_lock(waiting.pk)
        if item.status in WAITING_STATUSES:
            _item_succeed(item, reference=transfer.reference, actor=None, now=timezone.now())


def _payout_failed_notify(
    event: StripeEvent,
    payout: dict[str, Any],
    items: list[PayoutItem],
    *,
    reason: str,
    returned: int,
    refused: int,
) -> None:
    if items:
        person_id: int | None = items[0].person_id
    else:
        person_id = (
            PayoutItem.objects.filter(destination=event.account)
            .order_by("-pk")
            .values_list("person_id", flat=True)
            .first()
        )
    if person_id is None:
        return
    currency = str(payout.get("currency", "")).upper()

    def display(amount: int) -> str:
        try:
            return minor_display(amount, currency)
        except MoneyError:
            return f"{amount} {currency}"

    amount = int(payout.get("amount", 0))
    lines = [f"Stripe could not pay {display(amount)} to your bank. {reason}"]
    if returned:
        lines.append(
            f"Quorum took {display(returned)} back from your Stripe account: it is in your "
            "payable balance again and is paid in a later run. Check your payout account and "
            "your bank details with Stripe before then."
        )
    if refused:
        lines.append(
            f"{display(refused)} could not be taken back and waits in your Stripe account; "
            "update your bank details with Stripe and Stripe pays it again."
        )
    if not returned and not refused:
        lines.append(
            "The money is safe in your Stripe account; update your bank details with Stripe "
            "and it is paid again."
        )
    notify(
        user=User.objects.get(pk=person_id),
        kind="payout",
        title=f"Your bank refused a payout of {display(amount)}",
        body=" ".join(lines),
        url=reverse("payments:my_payouts"),
    )


# --- Reconciliation of runs ---------------------------------------------------------------------


def payout_runs_reconcile(
    *, run_ids: list[int] | None = None, now: datetime | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Check every run not cancelled (or those given) against the ledger and the provider and
    store what differs on the run (shown to finance, with what to do). Returns the differences
    per run. A provider that cannot be reached is itself a difference."""
    now = now or timezone.now()
    runs = PayoutRun.objects.exclude(status__in=[PayoutRunStatus.CANCELLED, PayoutRunStatus.DRAFT])
    if run_ids is not None:
        runs = runs.filter(pk__in=run_ids)
    found: dict[int, list[dict[str, Any]]] = {}
    for run in runs.order_by("pk").iterator():
        provider = payout_provider_for(run.provider)
        transfers: list[Any] | None = None
        problems: list[dict[str, Any]] = []
        if provider.executes_itself and run.status in (
            PayoutRunStatus.EXECUTING,
            PayoutRunStatus.DONE,
        ):
            try:
                transfers = list(provider.transfers_of_group(run.transfer_group))
            except Exception as exc:
                problems.append(
                    {
                        "run": run.pk,
                        "code": "provider_unreachable",
                        "message": f"Could not list the provider's transfers: {exc}"[:500],
                        "action": "The check runs again within the hour; check the provider's "
                        "settings (STRIPE_API_KEY) if this stays.",
                        "item": None,
                    }
                )
        problems += [d.as_dict() for d in payout_run_differences(run, transfers, now=now)]
        PayoutRun.objects.filter(pk=run.pk).update(
            reconciled_at=now, reconciliation_differences=problems
        )
        if problems:
            logger.error("payout run %s: %d reconciliation differences", run.pk, len(problems))
        found[run.pk] = problems
    return found


HANDLERS: list[tuple[str, Callable[..., None]]] = [
    ("transfer.reversed", payout_transfer_reversed_handle),
    ("payout.failed", payout_failed_handle),
]
