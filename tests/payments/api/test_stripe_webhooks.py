"""The Stripe webhook endpoint: verified, stored once, processed in Celery with the object
re-fetched from Stripe (the fake server, through the real SDK, over HTTP)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditEvent
from payments.models import StripeEvent, StripeEventStatus
from payments.services.stripe_events import (
    _claim,
    stripe_event_handler_register,
    stripe_event_handler_unregister,
    stripe_event_receive,
    stripe_event_retry,
    stripe_event_retry_delay,
)
from payments.tasks import stripe_event_process, stripe_events_due
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.fake_stripe import webhook_payload, webhook_signature_header

pytestmark = pytest.mark.django_db

URL = "/api/v1/stripe/webhook/"


def _post(client, event, *, secret=WEBHOOK_SECRET, timestamp=None, payload=None):
    body = payload if payload is not None else webhook_payload(event)
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": webhook_signature_header(body, secret, timestamp)},
    )


@pytest.fixture
def client(client, django_capture_on_commit_callbacks):
    """The test client, running what a request queues on commit (the processing task) as a real
    commit would."""

    class Committing:
        def post(self, *args, **kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                return client.post(*args, **kwargs)

    return Committing()


class Recorder:
    """A handler that keeps what it was given; `fail` makes its next calls raise."""

    def __init__(self):
        self.seen = []
        self.fail = 0

    def __call__(self, *, event, current):
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the handler broke")
        self.seen.append((event.pk, current))


@pytest.fixture
def account_updated():
    recorder = Recorder()
    stripe_event_handler_register("account.updated", recorder)
    yield recorder
    stripe_event_handler_unregister("account.updated", recorder)


@pytest.fixture
def connected(fake_stripe):
    """A connected account at the fake, and its onboarding events (not yet delivered)."""
    from payments.stripe_client import stripe_client

    account = stripe_client().v1.accounts.create(
        params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    return account.id


def test_a_signed_event_is_stored_and_processed_with_the_object_fetched_now(
    client, fake_stripe, connected, account_updated
):
    event = fake_stripe.account_complete_onboarding(connected)

    answer = _post(client, event)

    assert answer.status_code == 200
    assert answer.json() == {"received": True, "event": event["id"], "duplicate": False}
    stored = StripeEvent.objects.get()
    assert (stored.id, stored.type, stored.account) == (event["id"], "account.updated", connected)
    assert stored.status == StripeEventStatus.PROCESSED and stored.processed_at is not None
    assert stored.attempts == 1
    # After payments' own account.updated handler (payments/services/stripe_connect.py).
    assert stored.handled_by.endswith(", tests.payments.api.test_stripe_webhooks.Recorder")
    [(event_id, current)] = account_updated.seen
    assert event_id == event["id"]
    assert current["payouts_enabled"] is True and current["id"] == connected
    fetch = fake_stripe.requests("GET", f"/v1/accounts/{connected}")
    assert [r.stripe_account for r in fetch] == [connected]  # with the event's connected account


def test_a_forged_signature_is_refused_and_nothing_is_stored(client, fake_stripe, connected):
    event = fake_stripe.account_complete_onboarding(connected)
    body = webhook_payload(event)
    forged = body.replace('"payouts_enabled": true', '"payouts_enabled": false')

    answer = client.post(
        URL,
        data=forged,
        content_type="application/json",
        headers={"Stripe-Signature": webhook_signature_header(body, WEBHOOK_SECRET)},
    )

    assert answer.status_code == 400
    assert answer.json()["code"] == "stripe_signature_invalid"
    assert "does not verify" in answer.json()["message"]
    assert not StripeEvent.objects.exists()


def test_a_signature_made_with_another_secret_is_refused(client, fake_stripe, connected):
    event = fake_stripe.account_complete_onboarding(connected)

    answer = _post(client, event, secret="whsec_someone_else")

    assert answer.status_code == 400
    assert answer.json()["code"] == "stripe_signature_invalid"
    assert not StripeEvent.objects.exists()


def test_a_stale_timestamp_is_refused_as_a_replay(client, fake_stripe, connected, settings):
    settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
    event = fake_stripe.account_complete_onboarding(connected)

    answer = _post(client, event, timestamp=int(time.time()) - 301)

    assert answer.status_code == 400
    assert answer.json()["code"] == "stripe_signature_stale"
    assert "300 seconds" in answer.json()["message"]
    assert not StripeEvent.objects.exists()


def test_a_timestamp_within_the_tolerance_is_accepted(client, fake_stripe, connected):
    event = fake_stripe.account_complete_onboarding(connected)

    answer = _post(client, event, timestamp=int(time.time()) - 200)

    assert answer.status_code == 200


def test_a_missing_signature_header_is_refused(client, fake_stripe, connected):
    event = fake_stripe.account_complete_onboarding(connected)

    answer = client.post(URL, data=webhook_payload(event), content_type="application/json")

    assert answer.status_code == 400
    assert answer.json()["code"] == "stripe_signature_missing"


def test_without_a_webhook_secret_every_delivery_is_refused(
    client, fake_stripe, connected, settings
):
    event = fake_stripe.account_complete_onboarding(connected)
    settings.STRIPE_WEBHOOK_SECRET = ""

    answer = _post(client, event)

    assert answer.status_code == 400
    assert answer.json()["code"] == "stripe_webhook_not_configured"
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.update(id="not-an-event-id"), "id"),
        (lambda e: e.update(object="charge"), "object"),
        (lambda e: e.pop("type"), "type"),
        (lambda e: e.update(created="yesterday"), "created"),
        (lambda e: e.update(created=10**20), "created"),
        (lambda e: e.update(data={}), "data.object"),
    ],
)
def test_a_signed_but_malformed_event_is_refused_naming_the_field(
    client, fake_stripe, connected, change, field
):
    event = dict(fake_stripe.account_complete_onboarding(connected))
    change(event)

    answer = _post(client, event)

    assert answer.status_code == 400
    assert answer.json()["code"] == "stripe_event_malformed"
    assert field in answer.json()["extra"]["fields"]
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("body", ["{not json", '{"id": NaN}', "[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_refused(client, fake_stripe, body):
    answer = _post(client, None, payload=body)

    assert answer.status_code == 400
    assert answer.json()["code"] == "stripe_event_malformed"


def test_the_same_event_delivered_twice_is_stored_and_processed_once(
    client, fake_stripe, connected, account_updated
):
    event = fake_stripe.account_complete_onboarding(connected)

    first = _post(client, event)
    again = _post(client, event)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert StripeEvent.objects.count() == 1
    assert len(account_updated.seen) == 1
    assert len(fake_stripe.requests("GET", f"/v1/accounts/{connected}")) == 1


def test_events_out_of_order_each_see_the_current_object(
    client, fake_stripe, connected, account_updated
):
    enabled = fake_stripe.account_complete_onboarding(connected)
    disabled = fake_stripe.account_set(
        connected, payouts_enabled=False, requirements={"currently_due": ["external_account"]}
    )

    _post(client, disabled)  # the newer event arrives first
    _post(client, enabled)  # the older one last: its payload says payouts are enabled

    assert [event_id for event_id, _ in account_updated.seen] == [disabled["id"], enabled["id"]]
    assert enabled["data"]["object"]["payouts_enabled"] is True
    assert [current["payouts_enabled"] for _, current in account_updated.seen] == [False, False]
    assert account_updated.seen[-1][1]["requirements"]["currently_due"] == ["external_account"]


def test_an_event_of_a_type_nobody_handles_is_stored_and_marked_processed(client, fake_stripe):
    event = fake_stripe.event_create("charge.succeeded", {"id": "ch_1", "object": "charge"})

    answer = _post(client, event)

    assert answer.status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.PROCESSED
    assert stored.handled_by == ""
    assert fake_stripe.requests("GET") == []  # nothing to fetch for nobody


def test_a_handler_failure_is_recorded_and_retried_later_with_backoff(
    client, fake_stripe, connected, account_updated
):
    account_updated.fail = 1
    event = fake_stripe.account_complete_onboarding(connected)

    _post(client, event)

    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.PENDING
    assert stored.attempts == 1
    assert "RuntimeError: the handler broke" in stored.last_error
    assert stored.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert account_updated.seen == []
    assert stripe_events_due() == 0  # not due yet

    StripeEvent.objects.filter(pk=stored.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=2)
    )
    assert stripe_events_due() == 1

    stored.refresh_from_db()
    assert stored.status == StripeEventStatus.PROCESSED
    assert stored.attempts == 2 and stored.last_error == ""
    assert len(account_updated.seen) == 1


def test_stripe_unreachable_while_processing_is_retried_later(
    client, fake_stripe, connected, account_updated
):
    fake_stripe.inject(f"GET /v1/accounts/{connected}", "500")
    event = fake_stripe.account_complete_onboarding(connected)

    _post(client, event)

    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.PENDING and stored.attempts == 1
    assert "Could not fetch the account" in stored.last_error
    assert account_updated.seen == []

    StripeEvent.objects.filter(pk=stored.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=2)
    )
    stripe_events_due()

    stored.refresh_from_db()
    assert stored.status == StripeEventStatus.PROCESSED
    assert account_updated.seen[0][1]["payouts_enabled"] is True


def test_a_handler_failure_rolls_back_its_writes(client, fake_stripe, connected, finance):
    def writes_then_breaks(*, event, current):
        audit_record(actor=None, action="test.half_done", target=event)
        raise RuntimeError("after writing")

    stripe_event_handler_register("account.updated", writes_then_breaks)
    try:
        _post(client, fake_stripe.account_complete_onboarding(connected))
    finally:
        stripe_event_handler_unregister("account.updated", writes_then_breaks)

    assert not AuditEvent.objects.filter(action="test.half_done").exists()
    assert StripeEvent.objects.get().status == StripeEventStatus.PENDING


def test_after_the_last_attempt_the_event_fails_and_finance_can_retry_it(
    client,
    fake_stripe,
    connected,
    account_updated,
    settings,
    finance,
    django_capture_on_commit_callbacks,
):
    settings.STRIPE_EVENT_MAX_ATTEMPTS = 2
    account_updated.fail = 2
    event = fake_stripe.account_complete_onboarding(connected)
    _post(client, event)
    StripeEvent.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    stripe_events_due()

    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.FAILED
    assert stored.attempts == 2 and stored.next_attempt_at is None
    assert stripe_events_due() == 0

    with django_capture_on_commit_callbacks(execute=True):
        stripe_event_retry(event_id=stored.pk, actor=finance)

    stored.refresh_from_db()
    assert stored.status == StripeEventStatus.PROCESSED
    assert stored.attempts == 3
    audit = AuditEvent.objects.get(action="stripe_event.retry")
    assert audit.actor == finance and audit.before["status"] == "failed"


def test_a_deleted_object_reaches_the_handler_as_none(
    client, fake_stripe, connected, account_updated
):
    event = fake_stripe.account_complete_onboarding(connected)
    del fake_stripe.accounts[connected]

    _post(client, event)

    assert account_updated.seen == [(event["id"], None)]


def test_the_endpoint_needs_no_session_token_or_csrf(fake_stripe, connected):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    event = fake_stripe.account_complete_onboarding(connected)

    answer = _post(strict, event)

    assert answer.status_code == 200


def _stored_pending(fake_stripe, connected):
    """Receive an event without running its processing (no commit in this test's transaction)."""
    event = fake_stripe.account_complete_onboarding(connected)
    body = webhook_payload(event)
    stripe_event_receive(
        payload=body.encode(), signature=webhook_signature_header(body, WEBHOOK_SECRET)
    )
    return StripeEvent.objects.get(pk=event["id"])


def test_an_attempt_whose_worker_died_is_taken_over_once_its_hold_ran_out(
    fake_stripe, connected, account_updated
):
    stored = _stored_pending(fake_stripe, connected)
    _claim(stored.pk)  # a worker claims the attempt and dies before finishing it

    assert stripe_events_due() == 0  # its hold has not run out
    StripeEvent.objects.filter(pk=stored.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=2)
    )
    assert stripe_events_due() == 1

    stored.refresh_from_db()
    assert stored.status == StripeEventStatus.PROCESSED and stored.attempts == 2
    assert len(account_updated.seen) == 1


def test_a_late_or_repeated_task_message_does_nothing(fake_stripe, connected, account_updated):
    stored = _stored_pending(fake_stripe, connected)

    stripe_event_process.delay(stored.pk, 3)  # sent after attempt 3, but no attempt was made

    stored.refresh_from_db()
    assert stored.attempts == 0 and account_updated.seen == []

    stripe_event_process.delay(stored.pk, 0)
    stripe_event_process.delay(stored.pk, 0)  # the same message delivered twice

    stored.refresh_from_db()
    assert stored.attempts == 1 and len(account_updated.seen) == 1


def test_retry_waits_grow_and_stay_within_their_jitter():
    waits = [stripe_event_retry_delay(n, jitter=0).total_seconds() for n in range(1, 11)]

    assert waits[:3] == [30, 120, 600]
    assert waits == sorted(waits) and waits[-1] == 12 * 3600
    assert stripe_event_retry_delay(1, jitter=0.5).total_seconds() == 36  # clamped to +20%


def test_any_of_several_secrets_verifies_and_each_still_refuses_stale_deliveries(
    client, fake_stripe, connected, settings
):
    settings.STRIPE_WEBHOOK_SECRET = f"whsec_platform_endpoint, {WEBHOOK_SECRET}"
    event = fake_stripe.account_complete_onboarding(connected)

    stale = _post(client, event, timestamp=int(time.time()) - 3600)
    other = _post(client, event, secret="whsec_not_listed")
    fresh = _post(client, event)

    assert (stale.status_code, stale.json()["code"]) == (400, "stripe_signature_stale")
    assert (other.status_code, other.json()["code"]) == (400, "stripe_signature_invalid")
    assert fresh.status_code == 200
    assert StripeEvent.objects.count() == 1
