"""Demo data of payout accounts (idempotent): the bank-file provider with every status to see.

- lead@demo.quorum (Germany, IBAN) and annotator@demo.quorum (the Philippines, account number and
  SWIFT/BIC): confirmed days ago, so payouts may use them (ready);
- reviewer@demo.quorum (Kenya): confirmed just now, so cooling off for PAYOUT_COOLING_OFF_HOURS;
- noor@demo.quorum (Jordan, IBAN): entered, waiting for the e-mail confirmation (the link is in
  the console e-mail of the first `seed_demo`; the page can send it again).
The numbers are published examples whose check digits hold, not anyone's account.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from payments.models import PayoutAccount
from payments.services.payout_accounts import (
    bank_details_confirm,
    bank_details_confirmation_token,
    bank_details_submit,
)

# email: (country, currency, details, confirmed hours ago or None for not confirmed)
DEMO_PAYOUT_ACCOUNTS: dict[str, tuple[str, str, dict[str, str], int | None]] = {
    "lead@demo.quorum": (
        "DE",
        "EUR",
        {"holder_name": "Leo Lead", "iban": "DE89370400440532013000"},
        24 * 10,
    ),
    "annotator@demo.quorum": (
        "PH",
        "USD",
        {"holder_name": "Ana Annotator", "account_number": "001234567890", "bic": "BOPIPHMM"},
        24 * 10,
    ),
    "reviewer@demo.quorum": (
        "KE",
        "KES",
        {"holder_name": "Rita Reviewer", "account_number": "1234567890", "bic": "KCBLKENX"},
        0,
    ),
    "noor@demo.quorum": (
        "JO",
        "USD",
        {"holder_name": "Noor Haddad", "iban": "JO94CBJO0010000000000131000302"},
        None,
    ),
}


def demo_payout_accounts_seed(*, now: datetime | None = None) -> list[str]:
    """Give the demo people their payout accounts once; return what was created."""
    now = now or timezone.now()
    created: list[str] = []
    people = {u.email: u for u in User.objects.filter(email__in=list(DEMO_PAYOUT_ACCOUNTS))}
    for email, (country, currency, details, hours_ago) in DEMO_PAYOUT_ACCOUNTS.items():
        user = people.get(email)
        if user is None or PayoutAccount.objects.filter(user=user).exists():
            continue
        at = now - timedelta(hours=hours_ago or 0)
        row = bank_details_submit(
            user=user, actor=user, country=country, currency=currency, details=details, now=at
        )
        if hours_ago is None:
            created.append(f"{email}: payout details waiting for e-mail confirmation")
            continue
        bank_details_confirm(user=user, token=bank_details_confirmation_token(row), now=at)
        cooling = hours_ago < settings.QUORUM_PAYOUT_COOLING_OFF_HOURS
        created.append(f"{email}: payout account {'cooling off' if cooling else 'ready'}")
    return created
