"""What each person may see of payments: finance sees the ledger; a person sees only their own
accounts. Objects outside a person's scope are "not found"."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.policy import Action, can
from payments.models import PERSON_KINDS, LedgerAccount, LedgerTransaction, PayoutAccount
from payments.selectors.ledger import ledger_accounts_with_balances, ledger_transactions_list
from payments.selectors.payout_accounts import payout_accounts_with_details


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


def payout_accounts_visible_to(user: Any) -> QuerySet[PayoutAccount]:
    """Finance sees every payout account (masked); anyone else signed in only their own."""
    accounts = payout_accounts_with_details(PayoutAccount.objects.order_by("pk"))
    if can(user, Action.PAYOUT_ACCOUNTS_VIEW):
        return accounts
    if not getattr(user, "is_authenticated", False):
        return accounts.none()
    return accounts.filter(user_id=user.pk)
