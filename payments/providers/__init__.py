"""Payout providers behind one interface (payments/providers/base.py): Stripe Connect transfers
(stripe.py) and bank files (bank_file.py). Payout runs ask `payout_provider_for(kind)`."""

from __future__ import annotations

from payments.models import PayoutProvider
from payments.providers.bank_file import BankFileProvider
from payments.providers.base import (
    PayoutProviderBackend,
    ProviderTransfer,
    TransferOutcome,
    TransferRequest,
)
from payments.providers.stripe import StripeTransfersProvider


def payout_provider_for(kind: str) -> PayoutProviderBackend:
    """The provider that pays runs of `kind` (a PayoutProvider value); ValueError if unknown."""
    if kind == PayoutProvider.STRIPE_CONNECT:
        return StripeTransfersProvider()
    if kind == PayoutProvider.BANK_FILE:
        return BankFileProvider()
    raise ValueError(f"No payout provider for {kind!r}.")


__all__ = [
    "BankFileProvider",
    "PayoutProviderBackend",
    "ProviderTransfer",
    "StripeTransfersProvider",
    "TransferOutcome",
    "TransferRequest",
    "payout_provider_for",
]
