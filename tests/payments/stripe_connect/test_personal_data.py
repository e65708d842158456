"""Payouts' personal data: the export holds payout accounts masked and the Stripe account's
state; erasure deletes bank details only when nothing is in transit, and keeps the records."""

import json

import pytest

from accounts.erasure import personal_data_erase
from accounts.models import Role
from accounts.personal_data import personal_data_export
from core.errors import Conflict
from kit.money import Micros
from payments.models import (
    AccountKind,
    BankDetails,
    PayoutAccount,
    PayoutAccountEvent,
    StripeConnectedAccount,
)
from payments.personal_data import payouts_in_transit
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post
from payments.services.stripe_connect import stripe_connect_start
from tests.factories import make_user
from tests.payments.factories import VALID_IBAN, accrue, make_payout_account, payable_of

pytestmark = pytest.mark.django_db


def in_transit_of(user, currency="EUR"):
    return ledger_account_get_or_create(kind=AccountKind.IN_TRANSIT, currency=currency, user=user)


def move(user, micros, source_key, *, src, dst, currency="EUR"):
    ledger_post(
        source_key=source_key,
        legs=[
            Leg(account=dst, amount=Micros(micros, currency)),
            Leg(account=src, amount=Micros(-micros, currency)),
        ],
        actor=None,
        memo="test move",
    )


def export(user) -> dict:
    return json.loads("".join(personal_data_export(user=user)))


def test_the_export_has_the_stripe_account_with_its_state(person, fake_stripe, stripe_offered):
    row = stripe_connect_start(user=person, country="KE", currency="USD")

    document = export(person)

    payouts = document["sections"]["payouts"]
    stripe = payouts["stripe_connected_account"]
    assert stripe["account"] == row.stripe_account
    assert stripe["can_receive_payouts"] is False
    assert "external_account" in stripe["currently_due"]
    assert "7 years" in payouts["retention"]


def test_the_export_never_holds_full_bank_details(person):
    make_payout_account(person)

    text = "".join(personal_data_export(user=person))

    assert VALID_IBAN not in text and "IBAN •••• 3000" in text


def test_erasure_is_refused_while_a_payout_is_in_transit(person, project):
    make_payout_account(person)
    accrue(person, project, 12_000_000, "work:1", currency="EUR")
    payable = payable_of(person, "EUR")
    move(
        person,
        12_000_000,
        "p:1",
        src=ledger_account_get_or_create(kind=AccountKind.PENDING, currency="EUR", user=person),
        dst=payable,
    )
    move(person, 12_000_000, "freeze:1", src=payable, dst=in_transit_of(person))

    with pytest.raises(Conflict) as refused:
        personal_data_erase(user=person, actor=make_user(Role.ADMIN))

    assert refused.value.code == "payout_pending"
    assert "12.00 EUR is in transit" in refused.value.message
    assert BankDetails.objects.get().ciphertext != ""


def test_erasure_deletes_details_once_nothing_is_in_transit_and_keeps_the_records(person, project):
    make_payout_account(person)
    accrue(person, project, 5_000_000, "work:1", currency="EUR")
    pending = ledger_account_get_or_create(kind=AccountKind.PENDING, currency="EUR", user=person)
    payable = payable_of(person, "EUR")
    move(person, 5_000_000, "p:1", src=pending, dst=payable)
    move(person, 5_000_000, "freeze:1", src=payable, dst=in_transit_of(person))
    paid = ledger_account_get_or_create(kind=AccountKind.PAID, currency="EUR", user=person)
    move(person, 5_000_000, "paid:1", src=in_transit_of(person), dst=paid)
    assert payouts_in_transit(person) == []

    outcome = personal_data_erase(user=person, actor=make_user(Role.ADMIN))

    assert outcome["payouts"] == {"bank_details_erased": 1}
    details = BankDetails.objects.get()
    assert (details.ciphertext, details.state, details.masked) == ("", "erased", "IBAN •••• 3000")
    assert PayoutAccount.objects.get(user=person).status == "disabled"
    assert PayoutAccountEvent.objects.filter(kind="details_confirmed").exists()
    assert PayoutAccountEvent.objects.filter(kind="details_erased").exists()


def test_erasure_keeps_the_stripe_record(person, fake_stripe, stripe_offered):
    row = stripe_connect_start(user=person, country="KE", currency="USD")

    personal_data_erase(user=person, actor=make_user(Role.ADMIN))

    assert StripeConnectedAccount.objects.get(pk=row.pk).stripe_account == row.stripe_account
    assert PayoutAccount.objects.get(user=person).status == "disabled"
