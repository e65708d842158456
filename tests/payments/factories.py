"""Ledger test data, made through payments' own services."""

from __future__ import annotations

from accounts.models import User
from kit.money import Micros
from labeling.models import Project
from payments.models import AccountKind, LedgerAccount, LedgerTransaction
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post


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
