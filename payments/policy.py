"""What each person may see of payments: finance sees the ledger and every rate card; a manager
reads the rate cards of the projects they manage; a person sees only their own accounts. Objects
outside a person's scope are "not found"."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts.policy import Action, can
from labeling.policy import projects_managed_by
from payments.models import (
    PERSON_KINDS,
    LedgerAccount,
    LedgerTransaction,
    PayoutAccount,
    RateCard,
    RateCardVersion,
)
from payments.selectors.ledger import ledger_accounts_with_balances, ledger_transactions_list
from payments.selectors.payout_accounts import payout_accounts_with_details
from payments.selectors.rates import rate_cards_list, rate_versions_list


def ledger_accounts_visible_to(user: Any) -> QuerySet[LedgerAccount]:
    """Finance sees every account; anyone else signed in only their own person accounts."""
    accounts = ledger_accounts_with_balances(LedgerAccount.objects.order_by("pk"))
    if can(user, Action.LEDGER_VIEW):
        return accounts
    if not getattr(user, "is_authenticated", False):
        return accounts.none()
    return accounts.filter(user_id=user.pk, kind__in=sorted(PERSON_KINDS))


def ledger_transactions_visible_to(user: Any) -> QuerySet[LedgerTransaction]:
    """Finance sees every transaction; nobody else sees the ledger's transactions."""
    if can(user, Action.LEDGER_VIEW):
        return ledger_transactions_list()
    return LedgerTransaction.objects.none()


def rate_cards_visible_to(user: Any) -> QuerySet[RateCard]:
    """Finance sees every rate card; a manager the cards of the projects they manage and the
    defaults of those projects' customers; nobody else any."""
    cards = rate_cards_list()
    if can(user, Action.RATES_MANAGE):
        return cards
    if not can(user, Action.RATES_VIEW):
        return cards.none()
    managed = projects_managed_by(user)
    return cards.filter(
        Q(project__in=managed.values("pk"))
        | Q(project__isnull=True, customer_id__in=managed.values("customer_id"))
    )


def rate_versions_visible_to(user: Any) -> QuerySet[RateCardVersion]:
    """The versions of the rate cards `user` may see."""
    return rate_versions_list().filter(card__in=rate_cards_visible_to(user).values("pk"))


def payout_accounts_visible_to(user: Any) -> QuerySet[PayoutAccount]:
    """Finance sees every payout account (masked); anyone else signed in only their own."""
    accounts = payout_accounts_with_details(PayoutAccount.objects.order_by("pk"))
    if can(user, Action.PAYOUT_ACCOUNTS_VIEW):
        return accounts
    if not getattr(user, "is_authenticated", False):
        return accounts.none()
    return accounts.filter(user_id=user.pk)
