"""payments' section of a person's data: their payout account, masked, and its history.

The export never holds full bank details (only what the person sees on their page). Erasure
deletes every stored bank detail (the encrypted values) and disables the account; the masked
record and the history stay, as the financial record of where money went.

Payout runs must not lose a payout whose details are erased under it: a module that holds
payouts registers a blocker with `payout_erasure_blocker_register(fn)`, `fn(user)` returning
why the person's details cannot be erased now (e.g. "a payout of 12.00 USD is in transit") or
None. A blocker's reason refuses the whole erasure (Conflict), which the administrator sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from accounts.models import User
from accounts.personal_data import (
    AuditSubject,
    Erasure,
    PersonalDataSection,
    personal_data_section_register,
)
from core.errors import Conflict
from payments.models import PayoutAccount
from payments.services.payout_accounts import bank_details_erase

ErasureBlocker = Callable[[User], str | None]
_blockers: dict[str, ErasureBlocker] = {}


def payout_erasure_blocker_register(name: str, blocker: ErasureBlocker) -> None:
    """Add (or replace) a check that may refuse erasing a person's bank details (payout runs)."""
    _blockers[name] = blocker


def payout_erasure_blocker_unregister(name: str) -> None:
    _blockers.pop(name, None)


def _export(user: User) -> Mapping[str, Any]:
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


def _subjects(user: User) -> Iterable[AuditSubject]:
    yield AuditSubject(
        PayoutAccount,
        tuple(PayoutAccount.objects.filter(user_id=user.pk).values_list("pk", flat=True)),
        frozenset({"note"}),
    )


def _erase(erasure: Erasure) -> None:
    for name, blocker in sorted(_blockers.items()):
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
