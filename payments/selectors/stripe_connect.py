"""Reads of Stripe Connect: a person's connected account, and the one answer payout runs need,
the connected account to transfer to (only when the person can be paid through it now)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payments.models import PayoutCountryProviders, PayoutProvider, StripeConnectedAccount
from payments.selectors.payout_accounts import (
    payout_account_ready,
    payout_providers_default,
    payout_providers_offered,
)


def stripe_account_masked(stripe_account: str) -> str:
    """A connected account as people see it in history and lists: its last four characters."""
    return f"Stripe account •••• {stripe_account[-4:]}"


def stripe_connected_account_of(user: Any) -> StripeConnectedAccount | None:
    return StripeConnectedAccount.objects.filter(user_id=user.pk).first()


def stripe_connected_account_id(user: Any, at: datetime | None = None) -> str | None:
    """The Stripe account (acct_...) to transfer `user`'s payout to, or None when they cannot be
    paid through Stripe at `at` (now by default): no connected account, Stripe is not their way
    of being paid, its payouts or transfers are not enabled, or the payout account is not ready
    (waiting, cooling off, disabled; `payout_account_ready` says why)."""
    row = StripeConnectedAccount.objects.select_related("payout_account").filter(user_id=user.pk)
    connected = row.first()
    if connected is None or not connected.can_receive_transfers:
        return None
    if connected.payout_account.provider != PayoutProvider.STRIPE_CONNECT:
        return None
    if not payout_account_ready(user, at).ready:
        return None
    return connected.stripe_account


def stripe_connect_offered(country: str) -> bool:
    """Whether a person in `country` may choose Stripe (any country finance offers it in, when
    the person's country is not known yet)."""
    if country:
        return PayoutProvider.STRIPE_CONNECT in payout_providers_offered(country)
    if PayoutProvider.STRIPE_CONNECT in payout_providers_default():
        return True
    # A few hundred rows at most (one per country); JSON containment differs per database.
    chosen = PayoutCountryProviders.objects.values_list("providers", flat=True)
    return any(PayoutProvider.STRIPE_CONNECT in providers for providers in chosen)
