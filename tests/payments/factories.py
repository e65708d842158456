"""Payments test data (ledger postings, rate cards, payout accounts), made through payments' own
services."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from kit.money import Micros
from labeling.models import Customer, Project
from payments.models import (
    AccountKind,
    LedgerAccount,
    LedgerTransaction,
    PayoutAccount,
    RateCardVersion,
)
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post
from payments.services.payout_accounts import (
    bank_details_confirm,
    bank_details_confirmation_token,
    bank_details_submit,
)
from payments.services.rates import RateSpec, rate_card_version_create


def pending_of(user: User, currency: str = "USD") -> LedgerAccount:
    return ledger_account_get_or_create(kind=AccountKind.PENDING, currency=currency, user=user)


def payable_of(user: User, currency: str = "USD") -> LedgerAccount:
    return ledger_account_get_or_create(kind=AccountKind.PAYABLE, currency=currency, user=user)


def expense_of(project: Project, currency: str = "USD") -> LedgerAccount:
    return ledger_account_get_or_create(
        kind=AccountKind.LABOUR_EXPENSE_PROJECT, currency=currency, project=project
    )


def accrue(
    user: User, project: Project, micros: int, source_key: str, currency: str = "USD"
) -> LedgerTransaction:
    """Post an earning of `micros` to the person's pending account, against the project's expense."""
    return ledger_post(
        source_key=source_key,
        legs=[
            Leg(account=pending_of(user, currency), amount=Micros(micros, currency)),
            Leg(account=expense_of(project, currency), amount=Micros(-micros, currency)),
        ],
        actor=None,
        memo="test accrual",
    )


def rate(
    work_kind: str = "annotation",
    amount_micros: int = 50_000,
    *,
    unit: str = "per_task",
    review_level: int = 0,
    tier: str = "",
    min_skill_level: int = 0,
) -> RateSpec:
    """One rate of a version (per final task unless `unit` says otherwise)."""
    return RateSpec(
        work_kind=work_kind,
        unit=unit,
        amount_micros=amount_micros,
        review_level=review_level,
        tier=tier,
        min_skill_level=min_skill_level,
    )


def rate_version(
    *rates: RateSpec,
    project: Project | None = None,
    customer: Customer | None = None,
    currency: str = "USD",
    effective_from: datetime | None = None,
    now: datetime | None = None,
    actor: User | None = None,
) -> RateCardVersion:
    """A version of the project's card (or the customer's default), made by the system unless
    `actor` says who; `now` moves the clock back to make a version that started in the past."""
    return rate_card_version_create(
        actor=actor,
        customer=customer,
        project=project,
        currency=currency,
        rates=list(rates) or [rate()],
        effective_from=effective_from,
        now=now,
    )


# --- Payout accounts --------------------------------------------------------------------------

# Valid example details (published test numbers: checksums hold, no real person's account).
VALID_IBAN = "DE89370400440532013000"
VALID_ROUTING = "011000015"


def make_payout_account(
    user: User,
    *,
    country: str = "DE",
    currency: str = "EUR",
    details: dict[str, str] | None = None,
    confirmed: bool = True,
    cooled_off: bool = True,
) -> PayoutAccount:
    """A payout account made through the services: bank details entered and, by default,
    confirmed long enough ago that the cooling-off period is over (the person can be paid)."""
    details = details or {"holder_name": "Ada Lovelace", "iban": VALID_IBAN}
    confirm_at = timezone.now() - (
        timedelta(hours=settings.QUORUM_PAYOUT_COOLING_OFF_HOURS + 1) if cooled_off else timedelta()
    )
    row = bank_details_submit(
        user=user,
        actor=user,
        country=country,
        currency=currency,
        details=details,
        now=confirm_at if confirmed else None,
    )
    if confirmed:
        bank_details_confirm(user=user, token=bank_details_confirmation_token(row), now=confirm_at)
    return PayoutAccount.objects.get(user=user)
