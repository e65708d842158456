"""The demo's payout accounts: every status once, seeded once."""

import pytest

from accounts.models import Role
from demo.payout_accounts import DEMO_PAYOUT_ACCOUNTS, demo_payout_accounts_seed
from payments.models import BankDetails
from payments.selectors.payout_accounts import payout_account_ready
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_demo_shows_ready_cooling_off_and_waiting_accounts_once():
    people = {email: make_user(Role.ANNOTATOR, email=email) for email in DEMO_PAYOUT_ACCOUNTS}

    first = demo_payout_accounts_seed()
    again = demo_payout_accounts_seed()

    codes = {email: payout_account_ready(user).code for email, user in people.items()}
    assert len(first) == 4 and again == []
    assert codes == {
        "lead@demo.quorum": "",
        "annotator@demo.quorum": "",
        "reviewer@demo.quorum": "cooling_off",
        "noor@demo.quorum": "pending_confirmation",
    }
    assert BankDetails.objects.count() == 4
