"""Stripe Connect transfers: one transfer per item attempt from the platform's balance to the
person's connected account, with the run's transfer_group and the item id in its metadata, sent
with the attempt's idempotency key. Every call goes through payments.stripe_client."""

from __future__ import annotations

from collections.abc import Iterator
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
