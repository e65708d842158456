"""What a payout provider does for a payout run, and the plain data it takes and gives.

A provider that `executes_itself` (Stripe) is called once per item attempt with an idempotency
key that stays the same for every call of that attempt; it answers with an outcome that is
definite (succeeded, failed) or ambiguous (the call may or may not have moved money: a timeout,
a 5xx, a dropped connection). An ambiguous outcome is retried with the same key while the
provider keeps keys (`key_window`), and after that settled by `transfers_of_group`, which lists
what the provider really did for a run. A provider that does not execute itself (bank file)
leaves items to finance, who marks them paid or failed from the bank's report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol

OutcomeKind = Literal["succeeded", "failed", "ambiguous"]


@dataclass(frozen=True)
class TransferRequest:
    item_id: int
    run_id: int
    person_id: int
    amount_minor: int
    currency: str
    destination: str
    transfer_group: str
    idempotency_key: str
    description: str


@dataclass(frozen=True)
class TransferOutcome:
    kind: OutcomeKind
    reference: str = ""
    message: str = ""


@dataclass(frozen=True)
class ProviderTransfer:
    """A transfer as the provider has it: its id, the item id of its metadata, its amounts."""

    reference: str
    item_id: int | None
    amount_minor: int
    currency: str
    reversed_minor: int


class PayoutProviderBackend(Protocol):
    kind: str
    executes_itself: bool
    key_window: timedelta

    def transfer(self, request: TransferRequest) -> TransferOutcome:
        """Pay one item attempt; never raises for the provider's answers (they are outcomes)."""
        ...

    def transfers_of_group(self, transfer_group: str) -> Iterator[ProviderTransfer]:
        """Every transfer the provider made for `transfer_group`. Raises when unreachable."""
        ...

    def available_balance_minor(self, currency: str) -> int | None:
        """The platform's available balance at the provider in `currency` (None: not known)."""
        ...
