"""payments' section of a person's data: their payout account, masked, and its history.

The export never holds full bank details (only what the person sees on their page). Erasure
deletes every stored bank detail (the encrypted values) and disables the account; the masked
record and the history stay, as the financial record of where money went.

Payout runs must not lose a payout whose details are erased under it: while any of the person's
in-transit ledger balances is not zero, a payout is pending and the erasure is refused
(Conflict, code payout_pending, naming the amount), which the administrator sees; they erase
again once the payout is settled (paid, or failed and back in payable). Other modules that
hold payouts may add a blocker with `payout_erasure_blocker_register(fn)`, `fn(user)` returning
why the person's details cannot be erased now or None.

What is kept (the masked payout account and its history, the Stripe connected account's id and
state, the ledger) is the financial record of where money went, kept for the retention period
(QUORUM_PAYOUT_RECORDS_RETENTION_YEARS, 7 by default). The export names it.

The export is a list of blocks (`_EXPORT_BLOCKS`); payout runs add theirs (the person's payout
history, from PayoutItem) by appending one function `(user) -> (name, data)` there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings

from accounts.models import User
from accounts.personal_data import (
    AuditSubject,
    Erasure,
    PersonalDataSection,
    personal_data_section_register,
)
from core.errors import Conflict
from kit.money import Micros, format_micros
from payments.models import AccountKind, LedgerAccount, PayoutAccount, StripeConnectedAccount
from payments.services.payout_accounts import bank_details_erase

ErasureBlocker = Callable[[User], str | None]
_blockers: dict[str, ErasureBlocker] = {}


def payout_erasure_blocker_register(name: str, blocker: ErasureBlocker) -> None:
    """Add (or replace) a check that may refuse erasing a person's bank details (payout runs)."""
    _blockers[name] = blocker


def payout_erasure_blocker_unregister(name: str) -> None:
    _blockers.pop(name, None)


def payouts_in_transit(user: User) -> list[Micros]:
    """The person's non-zero in-transit balances: money frozen in a payout run, not settled yet
    (a payout is pending while this is not empty)."""
    rows = LedgerAccount.objects.filter(user_id=user.pk, kind=AccountKind.IN_TRANSIT).exclude(
        balance_micros=0
    )
    return [Micros(row.balance_micros, row.currency) for row in rows.order_by("currency")]


def _in_transit_blocker(user: User) -> str | None:
    pending = payouts_in_transit(user)
    if not pending:
        return None
    amounts = ", ".join(format_micros(amount) for amount in pending)
    return f"a payout of {amounts} is in transit; erase again once it is paid or returned."


def _payout_account_block(user: User) -> Mapping[str, Any]:
    account = PayoutAccount.objects.filter(user_id=user.pk).first()
    if account is None:
        return {"payout_account": None, "bank_details": [], "history": []}
    return {
        "payout_account": {
            "provider": account.provider,
            "status": account.status,
            "country": str(account.country),
            "currency": account.currency,
            "confirmed_at": account.confirmed_at,
            "usable_from": account.usable_from,
            "disabled_reason": account.disabled_reason,
            "created_at": account.created_at,
        },
        # Masked: the full details are never exported once saved.
        "bank_details": [
            {
                "details": row.masked,
                "state": row.state,
                "country": str(row.country),
                "currency": row.currency,
                "submitted_at": row.submitted_at,
                "confirmed_at": row.confirmed_at,
                "ended_at": row.ended_at,
            }
            for row in account.bank_details.order_by("submitted_at", "pk")
        ],
        "history": [
            {
                "kind": event.kind,
                "at": event.created_at,
                "by_you": event.actor_id == user.pk,
                "actor_id": event.actor_id,
                "before": event.masked_before,
                "after": event.masked_after,
                "note": event.note,
            }
            for event in account.events.order_by("created_at", "pk")
        ],
    }


def _stripe_block(user: User) -> Mapping[str, Any]:
    row = StripeConnectedAccount.objects.filter(user_id=user.pk).first()
    if row is None:
        return {"stripe_connected_account": None}
    return {
        "stripe_connected_account": {
            # The person's own id at Stripe (not a bank detail: they quote it to Stripe's support).
            "account": row.stripe_account,
            "country": row.country,
            "currency": row.currency,
            "payouts_enabled": row.payouts_enabled,
            "details_submitted": row.details_submitted,
            "transfers": row.transfers_status,
            "can_receive_payouts": row.can_receive_transfers,
            "currently_due": list(row.currently_due),
            "past_due": list(row.past_due),
            "disabled_reason": row.disabled_reason,
            "last_checked_with_stripe": row.synced_at,
            "created_at": row.created_at,
        }
    }


def _retention_block(user: User) -> Mapping[str, Any]:
    years = settings.QUORUM_PAYOUT_RECORDS_RETENTION_YEARS
    return {
        "retention": (
            f"Payout records (masked) are kept for {years} years after your last payout, as "
            "financial law requires, also after your personal data is erased."
        )
    }


# The blocks of the export, in order: each `(user) -> {name: data}`. Payout runs append theirs.
_EXPORT_BLOCKS: list[Callable[[User], Mapping[str, Any]]] = [
    _payout_account_block,
    _stripe_block,
    _retention_block,
]


def _export(user: User) -> Mapping[str, Any]:
    document: dict[str, Any] = {}
    for block in _EXPORT_BLOCKS:
        document.update(block(user))
    return document


def _subjects(user: User) -> Iterable[AuditSubject]:
    yield AuditSubject(
        PayoutAccount,
        tuple(PayoutAccount.objects.filter(user_id=user.pk).values_list("pk", flat=True)),
        frozenset({"note"}),
    )
    yield AuditSubject(
        StripeConnectedAccount,
        tuple(StripeConnectedAccount.objects.filter(user_id=user.pk).values_list("pk", flat=True)),
    )


def _erase(erasure: Erasure) -> None:
    blockers = [("in_transit", _in_transit_blocker), *sorted(_blockers.items())]
    for name, blocker in blockers:
        reason = blocker(erasure.user)
        if reason:
            raise Conflict(
                f"The person's bank details cannot be erased yet: {reason}",
                code="payout_pending",
                extra={"blocker": name},
            )
    erased = bank_details_erase(user=erasure.user, actor=erasure.actor)
    erasure.count("payouts", "bank_details_erased", erased)


def register() -> None:
    """Register payments' section (called from `PaymentsConfig.ready`)."""
    personal_data_section_register(
        PersonalDataSection(
            name="payouts",
            title="Payouts: your payout account (details masked) and its history",
            export=_export,
            erase=_erase,
            subjects=_subjects,
            erase_order=500,
        )
    )
