"""Stripe Connect transfers: one transfer per item attempt from the platform's balance to the
person's connected account, with the run's transfer_group and the item id in its metadata, sent
with the attempt's idempotency key. Every call goes through payments.stripe_client."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe

from payments.models import PayoutProvider
from payments.providers.base import ProviderTransfer, TransferOutcome, TransferRequest
from payments.stripe_client import stripe_client

# Stripe keeps an idempotency key (and replays its answer) for at least 24 hours; a margin keeps
# a retry well inside the window.
STRIPE_KEY_WINDOW = timedelta(hours=23)


def stripe_outcome_of_error(exc: stripe.StripeError) -> TransferOutcome:
    """Say whether a Stripe error leaves the transfer undone (failed) or unknown (ambiguous).

    No answer, a 5xx, a rate limit or an idempotency conflict (a request with the same key still
    running, or a key Stripe does not recognise with these parameters) say nothing about whether
    the transfer was made: ambiguous. Any other 4xx is Stripe refusing the transfer: failed.
    """
    message = (getattr(exc, "user_message", None) or str(exc) or type(exc).__name__)[:1000]
    status = exc.http_status
    if (
        isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.IdempotencyError)
        or status is None
        or status >= 500
        or status == 409
    ):
        return TransferOutcome("ambiguous", message=f"{type(exc).__name__}: {message}")
    code = getattr(exc, "code", None)
    return TransferOutcome("failed", message=f"{message} ({code})" if code else message)


class StripeTransfersProvider:
    kind = PayoutProvider.STRIPE_CONNECT.value
    executes_itself = True
    key_window = STRIPE_KEY_WINDOW

    def transfer(self, request: TransferRequest) -> TransferOutcome:
        if not request.destination:
            return TransferOutcome("failed", message="The person has no Stripe connected account.")
        try:
            transfer = stripe_client().v1.transfers.create(
                params={
                    "amount": request.amount_minor,
                    "currency": request.currency.lower(),
                    "destination": request.destination,
                    "transfer_group": request.transfer_group,
                    "description": request.description,
                    "metadata": {
                        "quorum_item": str(request.item_id),
                        "quorum_run": str(request.run_id),
                    },
                },
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            return stripe_outcome_of_error(exc)
        return TransferOutcome("succeeded", reference=str(transfer.id))

    def transfers_of_group(self, transfer_group: str) -> Iterator[ProviderTransfer]:
        page = stripe_client().v1.transfers.list(
            params={"transfer_group": transfer_group, "limit": 100}
        )
        for transfer in page.auto_paging_iter():
            yield _provider_transfer(transfer.to_dict())

    def available_balance_minor(self, currency: str) -> int | None:
        balance = stripe_client().v1.balance.retrieve()
        for row in balance.to_dict().get("available", []):
            if str(row.get("currency", "")).upper() == currency.upper():
                return int(row.get("amount", 0))
        return 0


def _provider_transfer(data: dict[str, Any]) -> ProviderTransfer:
    raw_item = str((data.get("metadata") or {}).get("quorum_item", ""))
    return ProviderTransfer(
        reference=str(data["id"]),
        item_id=int(raw_item) if raw_item.isdigit() else None,
        amount_minor=int(data.get("amount", 0)),
        currency=str(data.get("currency", "")).upper(),
        reversed_minor=int(data.get("amount_reversed", 0)),
    )


def stripe_transfer_of(data: dict[str, Any]) -> ProviderTransfer:
    """A transfer object as Stripe serves it (a webhook's re-fetched object), as plain data."""
    return _provider_transfer(data)


def stripe_transfer_retrieve(transfer_id: str) -> ProviderTransfer:
    """The platform's transfer `transfer_id` as Stripe has it now. Raises the SDK's errors."""
    return _provider_transfer(stripe_client().v1.transfers.retrieve(transfer_id).to_dict())


# --- Taking money back: transfer reversals, a connected account's failed payout ----------------


@dataclass(frozen=True)
class StripeReversal:
    """One reversal of a transfer as Stripe has it."""

    reference: str  # trr_...
    amount_minor: int
    created: int
    metadata: dict[str, str]


def _reversal_of(data: dict[str, Any]) -> StripeReversal:
    return StripeReversal(
        reference=str(data["id"]),
        amount_minor=int(data.get("amount", 0)),
        created=int(data.get("created", 0)),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
    )


def stripe_transfer_reversals(transfer: dict[str, Any]) -> list[StripeReversal]:
    """Every reversal of a transfer object as Stripe served it, oldest first. The object embeds
    its ten newest; when it has more they are listed from Stripe. Raises the SDK's errors."""
    embedded = transfer.get("reversals") or {}
    rows = [dict(r) for r in embedded.get("data") or []]
    if embedded.get("has_more"):
        page = stripe_client().v1.transfers.reversals.list(
            str(transfer["id"]), params={"limit": 100}
        )
        rows = [r.to_dict() for r in page.auto_paging_iter()]
    return sorted((_reversal_of(r) for r in rows), key=lambda r: (r.created, r.reference))


def stripe_payout_transfers(*, account: str, payout_id: str) -> dict[str, int]:
    """Which platform transfers a connected account's automatic payout carried, and how much of
    each: transfer id -> minor units. Each transfer made the account a destination payment
    (py_...) whose balance transaction the payout carried; the payment names its transfer
    (`source_transfer`). Raises the SDK's errors (a manual payout: 400, Stripe cannot tell)."""
    page = stripe_client().v1.balance_transactions.list(
        params={"payout": payout_id, "type": "payment", "limit": 100, "expand": ["data.source"]},
        options={"stripe_account": account},
    )
    carried: dict[str, int] = defaultdict(int)
    for txn in page.auto_paging_iter():
        data = txn.to_dict()
        source = data.get("source")
        transfer = source.get("source_transfer") if isinstance(source, dict) else None
        if isinstance(transfer, dict):
            transfer = transfer.get("id")
        if transfer:
            carried[str(transfer)] += int(data.get("amount", 0))
    return dict(carried)


@dataclass(frozen=True)
class ReversalOutcome:
    """Stripe reversed (`reversal` set) or refused (`message` says why). An ambiguous answer is
    not an outcome: `stripe_transfer_reverse` raises it, for the caller to ask again with the
    same key."""

    reversal: StripeReversal | None
    message: str = ""


def stripe_transfer_reverse(
    *,
    transfer_id: str,
    amount_minor: int,
    idempotency_key: str,
    metadata: dict[str, str],
    description: str,
) -> ReversalOutcome:
    """Ask Stripe to take `amount_minor` of a transfer back from the connected account. Raises
    the SDK's error when the outcome is unknown (no answer, 5xx, a 409 on the key): the same key
    asked again gets Stripe's first answer."""
    try:
        reversal = stripe_client().v1.transfers.reversals.create(
            transfer_id,
            params={"amount": amount_minor, "metadata": metadata, "description": description},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        outcome = stripe_outcome_of_error(exc)
        if outcome.kind == "ambiguous":
            raise
        return ReversalOutcome(None, message=outcome.message)
    return ReversalOutcome(_reversal_of(reversal.to_dict()))
