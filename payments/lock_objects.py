"""Every row lock of payments, in one place, in one order.

The order, for every transaction that takes more than one: the ledger transaction's source key
(its unique index, taken by the insert), then person accounts in ascending primary key. Platform
accounts (expenses, clearing) are never locked: their balances are sums of entries.
An incentive period is locked alone by each batch of its close, before what `ledger_post` takes
(the source key, then the person's payable account); a program row alone by its version writes.
A rate card is locked alone, by the writes of its versions (no ledger lock is held with it). A
person's payout account is locked alone (its services take no other lock).
"""

from __future__ import annotations

from collections.abc import Iterable

from payments.models import (
    PERSON_KINDS,
    IncentivePeriod,
    LedgerAccount,
    PayoutAccount,
    RateCard,
)


def person_accounts_lock(account_ids: Iterable[int]) -> list[LedgerAccount]:
    """Lock the given person accounts, in ascending primary key; return them in that order."""
    ids = sorted(set(account_ids))
    return list(
        LedgerAccount.objects.select_for_update()
        .filter(pk__in=ids, kind__in=sorted(PERSON_KINDS))
        .order_by("pk")
    )


def rate_card_lock(card_id: int) -> RateCard:
    """Lock one rate card (its versions are numbered and added under this lock); return it."""
    return RateCard.objects.select_for_update().get(pk=card_id)


def payout_account_lock(*, user_id: int) -> PayoutAccount:
    """Lock and return the person's payout account (PayoutAccount.DoesNotExist if none)."""
    return PayoutAccount.objects.select_for_update().get(user_id=user_id)


def incentive_period_lock(period_id: int) -> IncentivePeriod:
    """Lock one incentive period (each batch of its close holds it); return it with its program
    and version."""
    return (
        IncentivePeriod.objects.select_for_update(of=("self",))
        .select_related("program", "version")
        .get(pk=period_id)
    )
