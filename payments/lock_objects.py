"""Every row lock of payments, in one place, in one order.

The order, for every transaction that takes more than one: the ledger transaction's source key
(its unique index, taken by the insert), then person accounts in ascending primary key. Platform
accounts (expenses, clearing) are never locked: their balances are sums of entries.
Earnings (payments/services/earnings.py) come first when taken: the earnings rows (a task's in
ascending pk, in one statement), then the person accounts; a person's earning remainder is read
and written only while their pending account is locked, so it has no lock of its own. Holds are
locked before their earning.
An incentive period is locked alone by each batch of its close, before what `ledger_post` takes
(the source key, then the person's payable account); a program row alone by its version writes.
A rate card is locked alone, by the writes of its versions (no ledger lock is held with it). A
person's payout account is locked first, then (Stripe Connect) their connected account row; no
other lock is held with them.
"""

from __future__ import annotations

from collections.abc import Iterable

from payments.models import (
    PERSON_KINDS,
    IncentivePeriod,
    LedgerAccount,
    PayoutAccount,
    RateCard,
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
