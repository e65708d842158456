"""The bank-file provider: Quorum does not move the money; finance sends the run's file to the
bank and marks each item paid or failed from the bank's report (payout_item_mark_paid and
payout_item_mark_failed in payments/services/payout_runs.py). The file formats (CSV, SEPA
pain.001) are built by the bank-file module, not here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from payments.models import PayoutProvider
from payments.providers.base import ProviderTransfer, TransferOutcome, TransferRequest


class BankFileProvider:
    kind = PayoutProvider.BANK_FILE.value
    executes_itself = False
    key_window = timedelta(0)

    def transfer(self, request: TransferRequest) -> TransferOutcome:
        # Never called: payout runs check `executes_itself` first.
        raise RuntimeError("Bank-file items are paid by the bank and marked by finance.")

    def transfers_of_group(self, transfer_group: str) -> Iterator[ProviderTransfer]:
        return iter(())

    def available_balance_minor(self, currency: str) -> int | None:
        return None
