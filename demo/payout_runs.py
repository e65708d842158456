"""Demo data of bank-file payout runs (idempotent): people a bank-file run can pay now.

Call after `demo_payout_accounts_seed` (it gives lead@demo.quorum a German IBAN in EUR and
annotator@demo.quorum a Philippine account in USD, both ready). This adds:

- priya@demo.quorum: a Dutch IBAN in EUR, confirmed ten days ago (past the cooling-off period);
- payable balances above the minimum payout: 125.40 EUR for lead@, 86.15 EUR for priya@ and
  48.20 USD for annotator@, each an earning of the demo project released to payable, so a EUR
  bank-file run pays two people (CSV or SEPA pain.001) and a USD run one (CSV).

finance@demo.quorum creates the run, finance2@demo.quorum approves it (both have the demo's
MFA); docs/payouts-runs.md walks through the rest. The numbers are published examples whose
check digits hold, not anyone's account.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from kit.money import Micros, micros_per_minor
from labeling.models import Project
from payments.models import AccountKind, LedgerTransaction, PayoutAccount
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post
from payments.services.payout_accounts import (
    bank_details_confirm,
    bank_details_confirmation_token,
    bank_details_submit,
)

# email: (country, currency, details), confirmed ten days ago.
DEMO_BANK_ACCOUNTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "priya@demo.quorum": (
        "NL",
        "EUR",
        {"holder_name": "Priya Nair", "iban": "NL91ABNA0417164300"},
    ),
}
# email: (minor units, currency) made payable for the demo's bank-file runs.
DEMO_PAYABLE: dict[str, tuple[int, str]] = {
    "lead@demo.quorum": (12_540, "EUR"),
    "priya@demo.quorum": (8_615, "EUR"),
    "annotator@demo.quorum": (4_820, "USD"),
}


def demo_payout_runs_seed(*, now: datetime | None = None) -> list[str]:
    """Give the demo's bank-file people their account and payable balance once; return what was
    created, for seed_demo's report."""
    now = now or timezone.now()
    created: list[str] = []
    emails = set(DEMO_BANK_ACCOUNTS) | set(DEMO_PAYABLE)
    people = {u.email: u for u in User.objects.filter(email__in=sorted(emails))}
    confirmed_at = now - timedelta(days=10)
    for email, (country, currency, details) in DEMO_BANK_ACCOUNTS.items():
        user = people.get(email)
        if user is None or PayoutAccount.objects.filter(user=user).exists():
            continue
        row = bank_details_submit(
            user=user,
            actor=user,
            country=country,
            currency=currency,
            details=details,
            now=confirmed_at,
        )
        bank_details_confirm(
            user=user, token=bank_details_confirmation_token(row), now=confirmed_at
        )
        created.append(f"{email}: payout account ready ({country}, {currency})")
    project = Project.objects.order_by("pk").first()
    if project is None:
        return created
    for email, (minor, currency) in DEMO_PAYABLE.items():
        user = people.get(email)
        if user is None:
            continue
        if _payable_earning_post(user, minor, currency, project, at=confirmed_at):
            created.append(f"{email}: {minor} minor units of {currency} payable")
    return created


def _payable_earning_post(
    user: User, minor: int, currency: str, project: Project, *, at: datetime
) -> bool:
    """Post a demo earning of `minor` and release it to payable (once, by source key)."""
    earned_key = f"demo:bank-payout:{user.pk}:{currency}:earned"
    if LedgerTransaction.objects.filter(source_key=earned_key).exists():
        return False
    amount = Micros(minor * micros_per_minor(currency), currency)
    pending = ledger_account_get_or_create(kind=AccountKind.PENDING, currency=currency, user=user)
    payable = ledger_account_get_or_create(kind=AccountKind.PAYABLE, currency=currency, user=user)
    expense = ledger_account_get_or_create(
        kind=AccountKind.LABOUR_EXPENSE_PROJECT, currency=currency, project=project
    )
    ledger_post(
        source_key=earned_key,
        legs=[Leg(account=pending, amount=amount), Leg(account=expense, amount=-amount)],
        actor=None,
        memo="Demo earning for the bank-file payout run",
        at=at,
    )
    ledger_post(
        source_key=f"demo:bank-payout:{user.pk}:{currency}:payable",
        legs=[Leg(account=pending, amount=-amount), Leg(account=payable, amount=amount)],
        actor=None,
        memo="Demo earning released to payable",
        at=at,
    )
    return True
