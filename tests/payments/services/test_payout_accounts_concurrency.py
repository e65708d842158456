"""Bank details entered from several tabs at once, on PostgreSQL: one account, one change waiting."""

import threading

import pytest
from django.db import connections

from accounts.models import Role
from payments.models import BankDetails, PayoutAccount
from payments.services.payout_accounts import bank_details_submit
from tests.factories import make_user
from tests.payments.factories import VALID_IBAN

THREADS = 8
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_first_submissions_make_one_account_with_one_change_waiting():
    person = make_user(Role.ANNOTATOR)
    start = threading.Barrier(THREADS)
    errors: list[str] = []

    def submit(n: int) -> None:
        try:
            start.wait(timeout=30)
            bank_details_submit(
                user=person,
                actor=person,
                country="DE",
                currency="EUR",
                details={"holder_name": f"Ada {n}", "iban": VALID_IBAN},
            )
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert PayoutAccount.objects.filter(user=person).count() == 1
    states = sorted(BankDetails.objects.values_list("state", flat=True))
    assert states == ["cancelled"] * (THREADS - 1) + ["pending"]
