"""The one place that decrypts bank details for a payout file: only for a person who can be paid
now by bank transfer, audited without the details, and the file built from it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from core.errors import Conflict
from core.models import AuditEvent
from payments.bank_files import bank_payments_csv
from payments.selectors.payout_accounts import bank_payment_details
from tests.factories import make_user
from tests.payments.factories import VALID_IBAN, VALID_ROUTING, make_payout_account

pytestmark = pytest.mark.django_db


def test_the_details_of_a_ready_account_are_decrypted_and_the_read_is_audited(person):
    finance = make_user(Role.FINANCE, mfa=True)
    make_payout_account(person)

    beneficiary = bank_payment_details(person, actor=finance, purpose="payout run 7")

    assert (beneficiary.name, beneficiary.iban, beneficiary.currency) == (
        "Ada Lovelace",
        VALID_IBAN,
        "EUR",
    )
    assert VALID_IBAN not in repr(beneficiary)
    [read] = AuditEvent.objects.filter(action="payout_account.details_read")
    assert read.actor_id == finance.pk
    assert VALID_IBAN not in str(read.after) and "3000" in str(read.after)
    assert "payout run 7" in str(read.after)


def test_a_us_account_gives_its_routing_number_and_the_csv_row(person):
    make_payout_account(
        person,
        country="US",
        currency="USD",
        details={
            "holder_name": "Grace Hopper",
            "routing_number": VALID_ROUTING,
            "account_number": "000123456789",
        },
    )

    beneficiary = bank_payment_details(person, actor=None, purpose="test")
    data = bank_payments_csv([beneficiary.payment(reference="42", amount_minor=10_050)])

    assert data.decode().splitlines()[1] == (
        f"42,Grace Hopper,,000123456789,{VALID_ROUTING},,US,100.50,USD"
    )


def test_details_still_cooling_off_are_not_given_out(person):
    make_payout_account(person, cooled_off=False)

    with pytest.raises(Conflict) as refused:
        bank_payment_details(person, actor=None, purpose="test")

    assert refused.value.code == "payout_account_not_ready"
    assert "payouts may use them from" in refused.value.message
    later = timezone.now() + timedelta(days=30)
    assert bank_payment_details(person, actor=None, purpose="test", at=later).iban == VALID_IBAN


def test_a_person_without_an_account_is_refused(person):
    with pytest.raises(Conflict) as refused:
        bank_payment_details(person, actor=None, purpose="test")

    assert refused.value.code == "payout_account_not_ready"
    assert not AuditEvent.objects.filter(action="payout_account.details_read").exists()
