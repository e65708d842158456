"""Reads of payout runs: who a run can pay and why not, the minimum payout, each run's progress,
what a person sees of their payouts, and the check of a run against the ledger and the provider.

Holds: a module that holds people's payouts (payments' holds) registers a check with
`payout_hold_check_register(name, fn)`; `fn(user_ids, currency)` returns, for the held people
among `user_ids`, the sentence saying why. A held person is excluded from a run with that reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from accounts.policy import Action, can
from kit.money import Minor, currency_exponent, format_minor, micros_per_minor
from payments.models import (
    AccountKind,
    LedgerEntry,
    PayoutAccount,
    PayoutExclusion,
    PayoutItem,
    PayoutItemStatus,
    PayoutProvider,
    PayoutReversal,
    PayoutReversalStatus,
    PayoutRun,
    PayoutRunStatus,
    StripeConnectedAccount,
)
from payments.models.stripe_connect import stripe_accounts_ready
from payments.selectors.payout_accounts import payout_account_status_at

HoldCheck = Callable[[list[int], str], dict[int, str]]
_hold_checks: dict[str, HoldCheck] = {}


def payout_hold_check_register(name: str, check: HoldCheck) -> None:
    """Add (or replace) a check that holds people's payouts (see the module docstring)."""
    _hold_checks[name] = check


def payout_hold_check_unregister(name: str) -> None:
    _hold_checks.pop(name, None)


def payout_holds_of(user_ids: list[int], currency: str) -> dict[int, str]:
    """The held people among `user_ids`, each with the reason of the first check that holds them."""
    held: dict[int, str] = {}
    for check in list(_hold_checks.values()):
        for user_id, reason in check(user_ids, currency).items():
            held.setdefault(user_id, reason)
    return held


def payout_minimum_minor(currency: str) -> int:
    """The minimum payout in minor units of `currency` (PAYOUT_MINIMUM_MINOR, else
    PAYOUT_MINIMUM_MAJOR_DEFAULT whole units)."""
    configured = dict(getattr(settings, "QUORUM_PAYOUT_MINIMUM_MINOR", {}))
    if currency in configured:
        return max(1, int(configured[currency]))
    major = int(getattr(settings, "QUORUM_PAYOUT_MINIMUM_MAJOR_DEFAULT", 10))
    return max(1, major * 10 ** currency_exponent(currency))


def stripe_destinations_of(user_ids: Iterable[int]) -> dict[int, str]:
    """The Stripe connected account (acct_...) of each person whose account Stripe lets us pay
    now (`StripeConnectedAccount.can_receive_transfers`, as a query): the one place payout runs
    learn where a Stripe transfer goes. That the payout account itself is ready and of the run's
    provider is judged beside it (`payout_candidates_judge`)."""
    return dict(
        StripeConnectedAccount.objects.filter(user_id__in=list(user_ids))
        .filter(stripe_accounts_ready())
        .values_list("user_id", "stripe_account")
    )


@dataclass(frozen=True)
class Candidate:
    """Whether a run can pay a person: `destination` when it can, else a code and a reason."""

    user_id: int
    code: str = ""
    reason: str = ""
    destination: str = ""

    @property
    def payable(self) -> bool:
        return not self.code


def payout_candidates_judge(
    *, user_ids: list[int], currency: str, provider: str, at: datetime
) -> dict[int, Candidate]:
    """Judge, in a few queries, whether a run of `currency` and `provider` can pay each person:
    a payout account ready at `at` (payout_account_ready's rule), of that provider and currency,
    a Stripe connected account for Stripe runs, and no hold. The minimum is checked by the run."""
    accounts = {a.user_id: a for a in PayoutAccount.objects.filter(user_id__in=user_ids)}
    destinations = (
        stripe_destinations_of(user_ids) if provider == PayoutProvider.STRIPE_CONNECT else {}
    )
    holds = payout_holds_of(user_ids, currency)
    judged: dict[int, Candidate] = {}
    provider_label = PayoutProvider(provider).label
    for user_id in user_ids:
        account = accounts.get(user_id)
        if account is None:
            judged[user_id] = Candidate(user_id, "no_account", "No payout account.")
            continue
        status = payout_account_status_at(account, at)
        if status != "ready":
            reason = {
                "pending_confirmation": "Payout details not confirmed by e-mail yet.",
                "cooling_off": "Payout details changed recently; usable from "
                f"{account.usable_from:%Y-%m-%d %H:%M} UTC.",
                "disabled": "Payout account disabled"
                + (f": {account.disabled_reason}" if account.disabled_reason else "."),
            }.get(status, "Payout account not ready.")
            judged[user_id] = Candidate(user_id, status, reason)
        elif account.provider != provider:
            judged[user_id] = Candidate(
                user_id,
                "other_provider",
                f"Paid by {account.get_provider_display()}, not {provider_label}.",
            )
        elif account.currency != currency:
            judged[user_id] = Candidate(
                user_id, "other_currency", f"Paid in {account.currency}, not {currency}."
            )
        elif provider == PayoutProvider.STRIPE_CONNECT and not destinations.get(user_id):
            judged[user_id] = Candidate(
                user_id, "no_connected_account", "No Stripe connected account yet."
            )
        elif user_id in holds:
            judged[user_id] = Candidate(user_id, "hold", f"On hold: {holds[user_id]}")
        else:
            judged[user_id] = Candidate(user_id, destination=destinations.get(user_id, ""))
    return judged


# --- Scopes and lists ---------------------------------------------------------------------------


def payout_runs_visible_to(user: Any) -> QuerySet[PayoutRun]:
    """Finance sees every run; nobody else sees runs (people see their own items)."""
    runs = PayoutRun.objects.select_related("created_by", "approved_by").order_by("-pk")
    return runs if can(user, Action.PAYOUT_RUNS_VIEW) else runs.none()


def payout_items_visible_to(user: Any) -> QuerySet[PayoutItem]:
    """Finance sees every item; anyone else signed in only their own."""
    items = PayoutItem.objects.select_related("run", "person").order_by("-pk")
    if can(user, Action.PAYOUT_RUNS_VIEW):
        return items
    if not getattr(user, "is_authenticated", False):
        return items.none()
    return items.filter(person_id=user.pk)


def payout_exclusions_of(run: PayoutRun) -> QuerySet[PayoutExclusion]:
    return run.exclusions.select_related("person").order_by("pk")


@dataclass
class RunProgress:
    """How far a run's items have come: counts and amounts per status, and the share settled."""

    counts: dict[str, int] = field(default_factory=dict)
    amounts_minor: dict[str, int] = field(default_factory=dict)
    total: int = 0

    @property
    def settled(self) -> int:
        return sum(
            self.counts.get(s, 0)
            for s in (
                PayoutItemStatus.SUCCEEDED,
                PayoutItemStatus.FAILED,
                PayoutItemStatus.RETURNED,
                PayoutItemStatus.CANCELLED,
            )
        )

    @property
    def percent(self) -> int:
        """Whole percent settled (integer arithmetic; 100 only when every item is settled)."""
        if not self.total:
            return 100
        return self.settled * 100 // self.total


def payout_run_progress(run: PayoutRun) -> RunProgress:
    rows = (
        PayoutItem.objects.filter(run_id=run.pk)
        .values("status")
        .annotate(n=Count("pk"), amount=Sum("amount_minor"))
        .order_by()
    )
    progress = RunProgress()
    for row in rows:
        progress.counts[row["status"]] = row["n"]
        progress.amounts_minor[row["status"]] = row["amount"] or 0
        progress.total += row["n"]
    return progress


def payout_run_freeze_percent(run: PayoutRun) -> int:
    """How far the freeze has come, in whole percent of the people with a payable balance."""
    if run.status != PayoutRunStatus.DRAFT:
        return 100
    if not run.freeze_candidates:
        return 0
    return min(99, run.freeze_looked_at * 100 // run.freeze_candidates)


# Business days a payout takes to reach the bank once it leaves Quorum, per provider.
ARRIVAL_BUSINESS_DAYS = {PayoutProvider.STRIPE_CONNECT.value: 2, PayoutProvider.BANK_FILE.value: 3}


def _add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def payout_item_expected_arrival(item: PayoutItem) -> date | None:
    """When the money should be in the person's bank: business days after it left Quorum (or,
    while it waits, after now); None for items that will not arrive (failed, returned...)."""
    waiting = {
        PayoutItemStatus.PENDING,
        PayoutItemStatus.PROCESSING,
        PayoutItemStatus.AMBIGUOUS,
        PayoutItemStatus.AWAITING_BANK_FILE,
    }
    if item.status == PayoutItemStatus.SUCCEEDED and item.settled_at is not None:
        start = item.settled_at
    elif item.status in waiting:
        start = timezone.now()
    else:
        return None
    return _add_business_days(start.date(), ARRIVAL_BUSINESS_DAYS.get(item.run.provider, 3))


def minor_display(amount: int, currency: str) -> str:
    return format_minor(Minor(int(amount), currency))


# --- Reconciliation of runs ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunDifference:
    """One way a run does not add up, and what finance should do about it."""

    run_id: int
    code: str
    message: str
    action: str
    item_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "code": self.code,
            "message": self.message,
            "action": self.action,
            "item": self.item_id,
        }


# How long an item may stay ambiguous or in flight before the check reports it.
STUCK_AFTER = timedelta(hours=1)


def payout_items_returned_minor(run: PayoutRun) -> dict[int, int]:
    """What came back to payable of each item of `run` (Stripe's reversals of the transfer of
    its current attempt), item id -> minor."""
    rows = (
        PayoutReversal.objects.filter(
            item__run_id=run.pk,
            status=PayoutReversalStatus.RETURNED,
            attempt=F("item__attempt"),
        )
        .values("item_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("item_id", "s")
    )
    return {item_id: int(total) for item_id, total in rows}


def _refused_reversals(run: PayoutRun) -> list[RunDifference]:
    """Reversals Quorum asked for after a person's payout to their bank failed and Stripe
    refused, unless a reversal of the item came back since (finance reversed it at Stripe)."""
    later = PayoutReversal.objects.filter(
        item_id=OuterRef("item_id"),
        status=PayoutReversalStatus.RETURNED,
        pk__gt=OuterRef("pk"),
    )
    refused = (
        PayoutReversal.objects.filter(item__run_id=run.pk, status=PayoutReversalStatus.REFUSED)
        .exclude(Exists(later))
        .select_related("item")
        .order_by("pk")[:50]
    )
    return [
        RunDifference(
            run.pk,
            "reversal_refused",
            f"Item {row.item_id}: the person's bank refused Stripe's payout {row.payout}, and "
            f"Stripe refused to take {minor_display(row.amount_minor, run.currency)} of transfer "
            f"{row.item.provider_reference} back ({row.provider_message}). The ledger counts it "
            "paid; it waits in the person's Stripe account.",
            "Look at the person's connected account in Stripe: once its balance holds the "
            "amount, reverse the transfer there by that amount (Quorum then returns it to the "
            "person's payable balance and this line goes). If Stripe has paid it to the "
            "person's corrected bank account instead, nobody is owed anything (this line then "
            "stays as a record).",
            row.item_id,
        )
        for row in refused
    ]


def payout_run_differences(
    run: PayoutRun,
    provider_transfers: Iterable[Any] | None,
    *,
    now: datetime | None = None,
) -> list[RunDifference]:
    """Check one run: its items sum to what was frozen, the ledger's freeze postings hold that
    sum, and (given the provider's transfers of the run's group, for a provider that executes
    itself) each item's net transferred amount matches its status, with nothing at the provider
    that is not one of its items. Reads only."""
    now = now or timezone.now()
    out: list[RunDifference] = []
    if run.status in (PayoutRunStatus.DRAFT, PayoutRunStatus.CANCELLED):
        return out
    totals = PayoutItem.objects.filter(run_id=run.pk).aggregate(
        n=Count("pk"), s=Sum("amount_minor")
    )
    items_sum, items_count = int(totals["s"] or 0), int(totals["n"] or 0)
    cur = run.currency
    if items_sum != run.frozen_total_minor or items_count != run.item_count:
        out.append(
            RunDifference(
                run.pk,
                "items_sum",
                f"Items sum to {minor_display(items_sum, cur)} in {items_count} items; the run "
                f"froze {minor_display(run.frozen_total_minor, cur)} in {run.item_count}.",
                "Do not approve or pay this run; cancel it and tell the developers (the "
                "audit trail of the run shows who changed what).",
            )
        )
    frozen_micros = (
        LedgerEntry.objects.filter(
            transaction__source_key__startswith=f"payout_run:{run.pk}:freeze:",
            account__kind=AccountKind.IN_TRANSIT,
        ).aggregate(s=Sum("amount_micros"))["s"]
        or 0
    )
    if frozen_micros != run.frozen_total_minor * micros_per_minor(cur):
        out.append(
            RunDifference(
                run.pk,
                "ledger_freeze",
                "The ledger moved "
                f"{minor_display(frozen_micros // micros_per_minor(cur), cur)} to in transit "
                f"for this run; the run froze {minor_display(run.frozen_total_minor, cur)}.",
                "Compare the run's freeze postings in the ledger explorer with its items; "
                "cancel the run if it is not approved yet.",
            )
        )
    stuck = PayoutItem.objects.filter(
        Q(status=PayoutItemStatus.AMBIGUOUS) | Q(status=PayoutItemStatus.PROCESSING),
        run_id=run.pk,
        updated_at__lt=now - STUCK_AFTER,
    ).values_list("pk", flat=True)[:50]
    for item_id in stuck:
        out.append(
            RunDifference(
                run.pk,
                "item_unsettled",
                f"Item {item_id} has waited more than an hour for the provider's answer.",
                "Nothing is paid twice: it is retried with the same key and, after the "
                "provider's key window, settled from the provider's transfers. If it stays, "
                "check the provider's status page.",
                item_id,
            )
        )
    out += _refused_reversals(run)
    if provider_transfers is None or run.status not in (
        PayoutRunStatus.EXECUTING,
        PayoutRunStatus.DONE,
    ):
        return out
    net_by_item: dict[int, int] = defaultdict(int)
    unknown: list[Any] = []
    for transfer in provider_transfers:
        if transfer.item_id is None:
            unknown.append(transfer)
            continue
        net_by_item[transfer.item_id] += transfer.amount_minor - transfer.reversed_minor
    items = dict(PayoutItem.objects.filter(run_id=run.pk).values_list("pk", "status").iterator())
    amounts = dict(
        PayoutItem.objects.filter(run_id=run.pk).values_list("pk", "amount_minor").iterator()
    )
    returned = payout_items_returned_minor(run)
    for transfer in unknown:
        out.append(
            RunDifference(
                run.pk,
                "unknown_transfer",
                f"The provider has transfer {transfer.reference} in this run's group without "
                "an item of the run.",
                "Look the transfer up at the provider; reverse it there if nobody is owed it.",
            )
        )
    for item_id, net in net_by_item.items():
        if item_id not in items:
            out.append(
                RunDifference(
                    run.pk,
                    "unknown_transfer",
                    f"The provider transferred {minor_display(net, cur)} for item {item_id}, "
                    "which is not an item of this run.",
                    "Look the transfer up at the provider; reverse it there if nobody is owed it.",
                    item_id,
                )
            )
    for item_id, status in items.items():
        net = net_by_item.get(item_id, 0)
        # Paid, less what Stripe took back (a returned item may be returned in part).
        owed = (
            amounts[item_id] - returned.get(item_id, 0)
            if status in (PayoutItemStatus.SUCCEEDED, PayoutItemStatus.RETURNED)
            else 0
        )
        if status in (PayoutItemStatus.AMBIGUOUS, PayoutItemStatus.PROCESSING):
            continue  # reported above when stuck; its outcome is not known yet
        if net != owed:
            out.append(
                RunDifference(
                    run.pk,
                    "transfer_mismatch",
                    f"Item {item_id} is {PayoutItemStatus(status).label.lower()} but the "
                    f"provider holds {minor_display(net, cur)} transferred for it "
                    f"(expected {minor_display(owed, cur)}).",
                    "Open the item: if the provider paid twice, reverse the extra transfer at "
                    "the provider; if it paid nothing, retry the item.",
                    item_id,
                )
            )
    succeeded = [
        i
        for i, s in items.items()
        if s in (PayoutItemStatus.SUCCEEDED, PayoutItemStatus.RETURNED)
        and amounts[i] > returned.get(i, 0)
    ]
    paid_at_provider = [i for i, net in net_by_item.items() if net > 0]
    if len(succeeded) != len(paid_at_provider):
        out.append(
            RunDifference(
                run.pk,
                "transfer_count",
                f"{len(succeeded)} items are paid here; the provider has {len(paid_at_provider)} "
                "transfers not reversed for this run.",
                "See the item lines above.",
            )
        )
    return out


def payout_runs_with_differences() -> QuerySet[PayoutRun]:
    """Runs whose last check found differences (the portal's alert for finance)."""
    return PayoutRun.objects.filter(reconciled_at__isnull=False).exclude(
        reconciliation_differences=[]
    )
