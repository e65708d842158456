"""Stripe webhooks end to end over real HTTP: the fake server posts events to Quorum's live
server as Stripe does, and Quorum re-fetches objects from the fake through the real SDK."""

import threading
import time

import pytest
from django.db import connections

from payments.models import StripeEvent, StripeEventStatus
from payments.services.stripe_events import (
    stripe_event_handler_register,
    stripe_event_handler_unregister,
    stripe_event_receive,
)
from payments.stripe_client import stripe_client
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.fake_stripe import deliver, webhook_payload, webhook_signature_header

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()

    def __call__(self, *, event, current):
        with self.lock:
            self.seen.append((event.pk, current))


@pytest.fixture
def account_updated():
    recorder = Recorder()
    stripe_event_handler_register("account.updated", recorder)
    yield recorder
    stripe_event_handler_unregister("account.updated", recorder)


@pytest.fixture
def webhook_url(live_server):
    return f"{live_server.url}/api/v1/stripe/webhook/"


@pytest.fixture
def connected(fake_stripe):
    account = stripe_client().v1.accounts.create(
        params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    return account.id


def test_duplicate_forged_stale_and_out_of_order_deliveries_over_http(
    fake_stripe, webhook_url, connected, account_updated
):
    enabled = fake_stripe.account_complete_onboarding(connected)
    disabled = fake_stripe.account_set(connected, payouts_enabled=False)

    answers = [
        deliver(disabled, webhook_url, WEBHOOK_SECRET),
        deliver(enabled, webhook_url, WEBHOOK_SECRET),  # older, arriving later
        deliver(enabled, webhook_url, WEBHOOK_SECRET),  # Stripe sends it again
        deliver(enabled, webhook_url, "whsec_forger"),
        deliver(enabled, webhook_url, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 400, 400]
    assert answers[2].json()["duplicate"] is True
    assert [a.json()["code"] for a in answers[3:]] == [
        "stripe_signature_invalid",
        "stripe_signature_stale",
    ]
    assert StripeEvent.objects.count() == 2
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {
        StripeEventStatus.PROCESSED
    }
    assert [event_id for event_id, _ in account_updated.seen] == [disabled["id"], enabled["id"]]
    assert [current["payouts_enabled"] for _, current in account_updated.seen] == [False, False]


def test_the_fake_delivers_events_by_itself_when_asked(
    fake_stripe, webhook_url, connected, account_updated
):
    fake_stripe.auto_deliver_to(webhook_url, WEBHOOK_SECRET)
    try:
        event = fake_stripe.account_complete_onboarding(connected)
        deadline = time.monotonic() + 10
        while not account_updated.seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        fake_stripe.auto_deliver_to(None, None)

    assert account_updated.seen[0][0] == event["id"]
    assert account_updated.seen[0][1]["payouts_enabled"] is True


@pytest.mark.postgres
def test_the_same_event_arriving_on_eight_connections_at_once_is_processed_once(
    fake_stripe, connected, account_updated
):
    event = fake_stripe.account_complete_onboarding(connected)
    body = webhook_payload(event).encode()
    header = webhook_signature_header(body.decode(), WEBHOOK_SECRET)
    start = threading.Barrier(8)
    duplicates, errors = [], []

    def receive():
        try:
            start.wait(timeout=10)
            duplicates.append(stripe_event_receive(payload=body, signature=header).is_duplicate)
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=receive) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(duplicates) == [False] + [True] * 7
    assert StripeEvent.objects.get().status == StripeEventStatus.PROCESSED
    assert len(account_updated.seen) == 1


@pytest.mark.postgres
def test_four_workers_processing_the_same_event_at_once_run_its_handler_once(
    fake_stripe, connected, account_updated
):
    from payments.services.stripe_events import stripe_event_process

    event = fake_stripe.account_complete_onboarding(connected)
    body = webhook_payload(event)
    with pytest.MonkeyPatch.context() as patch:
        # Store the event without processing it: its queued job is dropped here.
        patch.setattr("payments.services.stripe_events._enqueue", lambda *args: None)
        stripe_event_receive(
            payload=body.encode(), signature=webhook_signature_header(body, WEBHOOK_SECRET)
        )
    start = threading.Barrier(4)
    errors = []

    def work():
        try:
            start.wait(timeout=10)
            stripe_event_process(event_id=event["id"])
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.PROCESSED and stored.attempts == 1
    assert len(account_updated.seen) == 1
