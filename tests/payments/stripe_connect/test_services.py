"""Stripe Connect accounts against the fake Stripe server (the real SDK over HTTP): creation
with the person's idempotency key, the onboarding link, the re-fetch, the account.updated
handler out of order and duplicated, and the one rule of readiness that the onboarding step and
payout runs read."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from core.errors import ValidationFailed
from core.models import AuditEvent
from payments.models import PayoutAccount, StripeConnectedAccount, StripeEvent
from payments.selectors.payout_accounts import payout_account_is_confirmed, payout_account_ready
from payments.selectors.stripe_connect import stripe_connected_account_id
from payments.services.stripe_connect import (
    StripeUnavailable,
    stripe_connect_onboarding_link,
    stripe_connect_start,
    stripe_connected_account_refresh,
    stripe_connected_account_sync,
)
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.factories import make_payout_account
from tests.payments.fake_stripe import webhook_payload, webhook_signature_header
from tests.payments.services.test_payout_accounts import qualify
from workforce.models import AnnotatorProfile

pytestmark = pytest.mark.django_db

WEBHOOK = "/api/v1/stripe/webhook/"


def start(person, country="KE", currency="USD"):
    return stripe_connect_start(user=person, country=country, currency=currency)


def post_event(committing, event, *, secret=WEBHOOK_SECRET, body=None):
    body = body if body is not None else webhook_payload(event)
    return committing.post(
        WEBHOOK,
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": webhook_signature_header(body, secret)},
    )


def test_start_creates_an_express_account_with_transfers_requested_under_the_persons_key(
    person, fake_stripe, stripe_offered
):
    row = start(person)

    [call] = fake_stripe.requests("POST", "/v1/accounts")
    assert call.idempotency_key == f"quorum-connect-account-{person.pk}"
    assert call.params["controller"]["stripe_dashboard"] == {"type": "express"}
    assert call.params["capabilities"] == {"transfers": {"requested": "true"}}
    assert call.params["country"] == "KE"
    assert fake_stripe.accounts[row.stripe_account]["type"] == "express"
    account = PayoutAccount.objects.get(user=person)
    assert (account.provider, account.status) == ("stripe_connect", "pending_confirmation")
    assert not row.can_receive_transfers and "external_account" in row.currently_due
    assert AuditEvent.objects.filter(action="stripe_connect.account_created").count() == 1


def test_starting_again_reuses_the_stored_account(person, fake_stripe, stripe_offered):
    first = start(person)

    again = start(person)

    assert again.pk == first.pk and again.stripe_account == first.stripe_account
    assert len(fake_stripe.requests("POST", "/v1/accounts")) == 1


def test_a_lost_answer_is_retried_with_the_same_key_and_gets_the_same_account(
    person, fake_stripe, stripe_offered, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.5
    fake_stripe.inject("POST /v1/accounts", "timeout", seconds=1.0)

    row = start(person)

    calls = fake_stripe.requests("POST", "/v1/accounts")
    assert len(calls) == 2 and calls[1].replayed
    assert len(fake_stripe.accounts) == 1 and row.stripe_account in fake_stripe.accounts


def test_stripe_not_offered_in_the_country_is_refused_naming_the_country(person, fake_stripe):
    with pytest.raises(ValidationFailed) as refused:
        start(person, country="FR")

    assert "country" in refused.value.extra["fields"]
    assert not fake_stripe.requests("POST", "/v1/accounts")


def test_stripe_refusing_is_a_clear_error_and_stores_nothing(person, fake_stripe, stripe_offered):
    fake_stripe.inject(
        "POST /v1/accounts",
        "error",
        status=400,
        error={"type": "invalid_request_error", "message": "Country KE is not supported."},
    )

    with pytest.raises(StripeUnavailable) as refused:
        start(person)

    assert "Country KE is not supported." in refused.value.message
    assert not StripeConnectedAccount.objects.exists() and not PayoutAccount.objects.exists()


def test_the_onboarding_link_returns_to_the_portal(person, fake_stripe, stripe_offered, settings):
    settings.SITE_URL = "https://quorum.example"
    row = start(person)

    url = stripe_connect_onboarding_link(user=person)

    [call] = fake_stripe.requests("POST", "/v1/account_links")
    assert call.params["account"] == row.stripe_account
    assert call.params["type"] == "account_onboarding"
    assert call.params["return_url"] == "https://quorum.example/payout-account/stripe/return/"
    assert call.params["refresh_url"] == "https://quorum.example/payout-account/stripe/refresh/"
    assert url.startswith(fake_stripe.url + "/fake/onboarding/")


def test_the_refresh_re_fetches_the_account_and_makes_it_ready_after_cooling_off(
    person, fake_stripe, stripe_offered
):
    row = start(person)
    fake_stripe.account_complete_onboarding(row.stripe_account)

    refreshed = stripe_connected_account_refresh(user=person)

    assert fake_stripe.requests("GET", f"/v1/accounts/{row.stripe_account}")
    assert refreshed.can_receive_transfers and refreshed.currently_due == []
    account = PayoutAccount.objects.get(user=person)
    assert account.status == "cooling_off"
    assert payout_account_is_confirmed(person)
    assert stripe_connected_account_id(person) is None  # cooling off
    later = account.usable_from + timedelta(seconds=1)
    assert stripe_connected_account_id(person, later) == row.stripe_account


def test_the_step_is_done_only_when_payouts_are_enabled_and_transfers_active(
    person, fake_stripe, stripe_offered
):
    qualify(person)
    row = start(person)

    fake_stripe.account_set(row.stripe_account, payouts_enabled=True)
    stripe_connected_account_refresh(user=person)
    payouts_only = payout_account_is_confirmed(person)
    status_then = AnnotatorProfile.objects.get(user=person).status
    fake_stripe.account_set(row.stripe_account, payouts_enabled=False)
    fake_stripe.account_set(row.stripe_account, capabilities={"transfers": "active"})
    stripe_connected_account_refresh(user=person)
    transfers_only = payout_account_is_confirmed(person)
    fake_stripe.account_set(row.stripe_account, payouts_enabled=True)
    stripe_connected_account_refresh(user=person)

    assert (payouts_only, transfers_only, status_then) == (False, False, "qualified")
    assert payout_account_ready(person).code == "cooling_off"
    assert payout_account_is_confirmed(person)
    assert AnnotatorProfile.objects.get(user=person).status == "probation"


def test_stripe_holding_payouts_later_makes_the_account_wait_again(
    person, fake_stripe, stripe_offered, settings
):
    settings.QUORUM_PAYOUT_COOLING_OFF_HOURS = 0
    row = start(person)
    fake_stripe.account_complete_onboarding(row.stripe_account)
    stripe_connected_account_refresh(user=person)
    ready_id = stripe_connected_account_id(person)

    fake_stripe.account_set(
        row.stripe_account,
        payouts_enabled=False,
        requirements={
            "past_due": ["individual.id_number"],
            "disabled_reason": "requirements.past_due",
        },
    )
    stripe_connected_account_refresh(user=person)

    assert ready_id == row.stripe_account
    assert stripe_connected_account_id(person) is None
    readiness = payout_account_ready(person)
    assert (readiness.ready, readiness.code) == (False, "stripe_onboarding")
    stored = StripeConnectedAccount.objects.get(pk=row.pk)
    assert stored.past_due == ["individual.id_number"]
    assert stored.disabled_reason == "requirements.past_due"


def test_an_account_deleted_at_stripe_cannot_be_paid(person, fake_stripe, stripe_offered, settings):
    settings.QUORUM_PAYOUT_COOLING_OFF_HOURS = 0
    row = start(person)
    fake_stripe.account_complete_onboarding(row.stripe_account)
    stripe_connected_account_refresh(user=person)

    stripe_connected_account_sync(stripe_account=row.stripe_account, current=None)

    assert StripeConnectedAccount.objects.get(pk=row.pk).is_deleted
    assert stripe_connected_account_id(person) is None


def test_bank_details_confirmed_later_win_over_a_ready_stripe_account(
    person, fake_stripe, stripe_offered, settings
):
    settings.QUORUM_PAYOUT_COOLING_OFF_HOURS = 0
    row = start(person, country="DE", currency="EUR")

    make_payout_account(person, cooled_off=False)  # the person moves to bank details
    fake_stripe.account_complete_onboarding(row.stripe_account)
    stripe_connected_account_refresh(user=person)

    assert PayoutAccount.objects.get(user=person).provider == "bank_file"
    assert stripe_connected_account_id(person) is None
    start(person, country="DE", currency="EUR")  # chooses Stripe again
    assert PayoutAccount.objects.get(user=person).provider == "stripe_connect"
    assert stripe_connected_account_id(person) == row.stripe_account


def test_a_disabled_payout_account_stays_disabled_whatever_stripe_says(
    person, fake_stripe, stripe_offered
):
    from payments.services.payout_accounts import payout_account_disable

    row = start(person)
    payout_account_disable(user=person, actor=None, reason="fraud check")
    fake_stripe.account_complete_onboarding(row.stripe_account)

    stripe_connected_account_refresh(user=person)

    assert PayoutAccount.objects.get(user=person).status == "disabled"
    assert stripe_connected_account_id(person) is None


# --- The account.updated webhook -----------------------------------------------------------


def test_account_updated_events_out_of_order_leave_the_account_as_stripe_has_it_now(
    person, fake_stripe, stripe_offered, committing
):
    row = start(person)
    onboarded = fake_stripe.account_complete_onboarding(row.stripe_account)
    held = fake_stripe.account_set(
        row.stripe_account,
        payouts_enabled=False,
        requirements={"currently_due": ["individual.verification.document"]},
    )

    # The newer event arrives first, the older one after it.
    assert post_event(committing, held).status_code == 200
    assert post_event(committing, onboarded).status_code == 200

    stored = StripeConnectedAccount.objects.get(pk=row.pk)
    assert not stored.payouts_enabled
    assert stored.currently_due == ["individual.verification.document"]
    assert PayoutAccount.objects.get(user=person).status == "pending_confirmation"
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_duplicated_account_updated_event_is_processed_once(
    person, fake_stripe, stripe_offered, committing
):
    row = start(person)
    event = fake_stripe.account_complete_onboarding(row.stripe_account)

    first = post_event(committing, event)
    second = post_event(committing, event)

    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert len(fake_stripe.requests("GET", f"/v1/accounts/{row.stripe_account}")) == 1
    assert StripeConnectedAccount.objects.get(pk=row.pk).can_receive_transfers
    assert AuditEvent.objects.filter(action="payout_account.stripe_readiness").count() == 1


def test_a_forged_account_updated_event_changes_nothing(
    person, fake_stripe, stripe_offered, committing
):
    row = start(person)
    event = fake_stripe.account_complete_onboarding(row.stripe_account)

    answer = post_event(committing, event, secret="whsec_forger")

    assert answer.status_code == 400
    assert not StripeConnectedAccount.objects.get(pk=row.pk).payouts_enabled
    assert not fake_stripe.requests("GET", f"/v1/accounts/{row.stripe_account}")


def test_an_event_about_an_account_that_is_not_a_persons_is_processed_and_ignored(
    fake_stripe, committing
):
    from payments.stripe_client import stripe_client

    other = stripe_client().v1.accounts.create(params={"type": "express"})
    event = fake_stripe.account_complete_onboarding(other.id)

    post_event(committing, event)

    assert StripeEvent.objects.get().status == "processed"
    assert not StripeConnectedAccount.objects.exists()


def test_the_hosted_onboarding_then_the_return_page_make_the_person_ready(
    person, person_client, fake_stripe, stripe_offered, settings
):
    settings.QUORUM_PAYOUT_COOLING_OFF_HOURS = 0
    answer = person_client.post("/payout-account/stripe/", {"country": "KE", "currency": "USD"})
    assert answer.status_code == 302 and answer["Location"].startswith(fake_stripe.url)

    at_stripe = requests.get(answer["Location"], allow_redirects=False, timeout=5)
    back = person_client.get(at_stripe.headers["Location"].replace(settings.SITE_URL, ""))

    assert back.status_code == 302 and back["Location"] == "/payout-account/"
    row = StripeConnectedAccount.objects.get(user=person)
    assert row.can_receive_transfers and row.synced_at > timezone.now() - timedelta(minutes=1)
    assert stripe_connected_account_id(person) == row.stripe_account


def test_the_person_is_told_by_e_mail_when_stripe_becomes_their_way_of_being_paid(
    person, fake_stripe, stripe_offered, django_capture_on_commit_callbacks
):
    from django.core import mail

    row = start(person)
    fake_stripe.account_complete_onboarding(row.stripe_account)

    with django_capture_on_commit_callbacks(execute=True):
        stripe_connected_account_refresh(user=person)
    with django_capture_on_commit_callbacks(execute=True):
        stripe_connected_account_refresh(user=person)  # nothing changed: no second e-mail

    [notice] = mail.outbox
    assert notice.to == [person.email]
    assert f"Stripe account •••• {row.stripe_account[-4:]}" in notice.body
    assert "Payouts use it from" in notice.body


def test_a_disabled_payout_account_cannot_start_stripe_and_nothing_is_opened_at_stripe(
    person, fake_stripe, stripe_offered
):
    from core.errors import Conflict
    from payments.services.payout_accounts import payout_account_disable

    make_payout_account(person)
    payout_account_disable(user=person, actor=None, reason="fraud check")

    with pytest.raises(Conflict) as refused:
        start(person, country="DE", currency="EUR")

    assert refused.value.code == "payout_account_disabled"
    assert not fake_stripe.requests("POST", "/v1/accounts")
