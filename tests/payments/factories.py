"""Ledger and rate card test data, made through payments' own services."""

from __future__ import annotations

from datetime import datetime

from accounts.models import User
from kit.money import Micros
from labeling.models import Customer, Project
from payments.models import AccountKind, LedgerAccount, LedgerTransaction, RateCardVersion
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post
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
