"""Stripe Connect in the portal and the API: the person's page shows Stripe's requirements with
the button that continues the set-up; finance's list shows every Stripe account's state without
N+1; the API starts the set-up, refreshes, lists for finance only; nothing reveals bank details."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from payments.services.stripe_connect import stripe_connect_start, stripe_connected_account_refresh
from tests.factories import make_user
from tests.payments.factories import VALID_IBAN, make_payout_account

pytestmark = pytest.mark.django_db


def test_the_payout_page_shows_stripes_requirements_and_the_continue_button(
    person, person_client, fake_stripe, stripe_offered
):
    stripe_connect_start(user=person, country="KE", currency="USD")

    page = person_client.get("/payout-account/").content.decode()

    assert 'id="stripe-status" data-ready="0"' in page
    assert "Continue set-up on Stripe" in page
    assert "<code>external_account</code>" in page
    assert "Waiting for your set-up on Stripe" in page
    assert 'id="stripe-payouts-enabled">No<' in page


def test_the_payout_page_offers_stripe_where_finance_offers_it(
    person, person_client, stripe_offered
):
    page = person_client.get("/payout-account/").content.decode()

    assert "Set up payouts with Stripe" in page


def test_the_payout_page_says_when_stripe_can_pay(
    person, person_client, fake_stripe, stripe_offered
):
    row = stripe_connect_start(user=person, country="KE", currency="USD")
    fake_stripe.account_complete_onboarding(row.stripe_account)
    stripe_connected_account_refresh(user=person)

    page = person_client.get("/payout-account/").content.decode()

    assert 'data-ready="1"' in page and "Continue set-up on Stripe" not in page
    assert f"Stripe account •••• {row.stripe_account[-4:]}" in page


def test_the_return_page_says_so_when_stripe_does_not_answer(
    person, person_client, fake_stripe, stripe_offered
):
    row = stripe_connect_start(user=person, country="KE", currency="USD")
    fake_stripe.inject(f"GET /v1/accounts/{row.stripe_account}", "500")

    answer = person_client.get("/payout-account/stripe/return/", follow=True)

    assert "Stripe could not show your account" in answer.content.decode()


def test_an_expired_link_leads_to_a_new_one(person, person_client, fake_stripe, stripe_offered):
    stripe_connect_start(user=person, country="KE", currency="USD")

    answer = person_client.get("/payout-account/stripe/refresh/")

    assert answer.status_code == 302 and "/fake/onboarding/" in answer["Location"]
    assert len(fake_stripe.requests("POST", "/v1/account_links")) == 1


def test_finance_sees_each_stripe_accounts_state_in_a_constant_number_of_queries(
    finance_client, fake_stripe, stripe_offered
):
    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            page = finance_client.get("/finance/payout-accounts/")
        assert page.status_code == 200
        return len(queries), page.content.decode()

    first = make_user(Role.ANNOTATOR)
    stripe_connect_start(user=first, country="KE", currency="USD")
    few, _ = page_queries()
    for _ in range(3):
        stripe_connect_start(user=make_user(Role.ANNOTATOR), country="KE", currency="USD")
    bank = make_user(Role.ANNOTATOR)
    make_payout_account(bank)

    many, page = page_queries()

    assert many == few
    assert page.count("payouts off, transfers inactive") == 4
    assert VALID_IBAN not in page


def test_the_api_starts_the_set_up_and_returns_the_onboarding_url(
    person_client, fake_stripe, stripe_offered
):
    answer = person_client.post(
        "/api/v1/me/stripe-connect/",
        {"country": "KE", "currency": "USD"},
        content_type="application/json",
    )

    assert answer.status_code == 201
    body = answer.json()
    assert body["onboarding_url"].startswith(fake_stripe.url + "/fake/onboarding/")
    assert body["can_receive_transfers"] is False and body["transfers_status"] == "inactive"
    assert person_client.get("/api/v1/me/stripe-connect/").json()["id"] == body["id"]


def test_the_api_refuses_a_country_without_stripe_naming_it(person_client, fake_stripe):
    answer = person_client.post(
        "/api/v1/me/stripe-connect/",
        {"country": "FR", "currency": "EUR"},
        content_type="application/json",
    )

    assert answer.status_code == 400
    assert "country" in answer.json()["extra"]["fields"]


def test_the_api_refresh_re_fetches_from_stripe(person, person_client, fake_stripe, stripe_offered):
    row = stripe_connect_start(user=person, country="KE", currency="USD")
    fake_stripe.account_complete_onboarding(row.stripe_account)

    answer = person_client.post("/api/v1/me/stripe-connect/refresh/")

    assert answer.status_code == 200 and answer.json()["can_receive_transfers"] is True


def test_only_finance_lists_connected_accounts(
    person, person_client, fake_stripe, stripe_offered, client
):
    stripe_connect_start(user=person, country="KE", currency="USD")

    refused = person_client.get("/api/v1/stripe-connected-accounts/")
    client.force_login(make_user(Role.FINANCE, mfa=True))
    listed = client.get("/api/v1/stripe-connected-accounts/?can_receive_transfers=false")
    client.force_login(make_user(Role.FINANCE))
    without_mfa = client.get("/api/v1/stripe-connected-accounts/")

    assert refused.status_code == 403
    assert listed.status_code == 200 and listed.json()["results"][0]["person"] == person.pk
    assert without_mfa.status_code == 403


def test_no_endpoint_reveals_saved_bank_details(person, finance):
    make_payout_account(person, details={"holder_name": "Ada Lovelace", "iban": VALID_IBAN})
    person_client, finance_client = Client(), Client()
    person_client.force_login(person)
    finance_client.force_login(finance)
    compact = VALID_IBAN
    spaced = " ".join(VALID_IBAN[i : i + 4] for i in range(0, len(VALID_IBAN), 4))

    answers = [
        person_client.get("/api/v1/me/payout-account/"),
        person_client.get("/payout-account/"),
        finance_client.get("/api/v1/payout-accounts/"),
        finance_client.get("/finance/payout-accounts/"),
        finance_client.get("/api/v1/stripe-connected-accounts/"),
    ]

    for answer in answers:
        text = answer.content.decode()
        assert answer.status_code == 200
        assert compact not in text and spaced not in text and "0532013000" not in text


def test_operators_inspect_connected_accounts_read_only_in_the_admin(
    client, person, fake_stripe, stripe_offered
):
    from payments.services.stripe_connect import stripe_connect_start as start

    row = start(user=person, country="KE", currency="USD")
    admin = make_user(Role.ADMIN, mfa=True)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)

    listed = client.get("/django-admin/payments/stripeconnectedaccount/")
    change = client.post(
        f"/django-admin/payments/stripeconnectedaccount/{row.pk}/change/",
        {"payouts_enabled": "on", "transfers_status": "active"},
    )

    assert listed.status_code == 200 and row.stripe_account in listed.content.decode()
    assert change.status_code == 403
