"""A Stripe run of 200 items against the fake Stripe server with a fault at every step: 500s,
timeouts and dropped connections after the transfer was made, refusals (transfers not enabled,
insufficient balance), workers killed between the call and the database write, keys expired
before the retry, duplicate and out-of-order webhooks. It ends with nobody paid twice, nobody
lost, the ledger reconciled and the run reconciled with Stripe's transfers."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import PayoutItem, PayoutItemStatus, PayoutRunStatus, StripeEvent
from payments.services import payout_runs as services
from payments.services.stripe_events import stripe_event_process, stripe_event_receive
from payments.stripe_client import stripe_client
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.fake_stripe import webhook_payload, webhook_signature_header
from tests.payments.payout_runs.helpers import (
    IN_TRANSIT,
    PAID,
    PAYABLE,
    assert_ledger_clean,
    balance_minor,
    committed,
    create_run,
    finance_user,
    stripe_account,
    stripe_person,
)
from workforce.models import Notification

pytestmark = pytest.mark.django_db

N = 200


class WorkerKilled(BaseException):
    """The worker process dying: nothing after it in the task runs."""


class Queue:
    """The `payouts` queue, drained by the test as a worker would (in a shuffled order, with
    every message delivered twice, as a broker redelivers after a lost acknowledgement)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, tuple]] = []

    def __call__(self, task_name: str, *args, countdown=None) -> None:
        self.messages.append((task_name, args))

    def drain(self, now, rng: random.Random) -> int:
        killed = 0
        while self.messages:
            batch, self.messages = self.messages * 2, []
            rng.shuffle(batch)
            for name, args in batch:
                try:
                    if name == services.PAYOUT_RUN_DISPATCH_TASK:
                        committed(services.payout_run_dispatch, run_id=args[0])
                    elif name == services.PAYOUT_ITEM_EXECUTE_TASK:
                        committed(services.payout_item_execute, item_id=args[0], now=now)
                except WorkerKilled:
                    killed += 1
        return killed


def deliver(event: dict) -> None:
    """Stripe posts the event (signed); Quorum stores it once and processes it."""
    payload = webhook_payload(event)
    received = stripe_event_receive(
        payload=payload.encode(), signature=webhook_signature_header(payload, WEBHOOK_SECRET)
    )
    committed(stripe_event_process, event_id=received.event.pk)


def test_two_hundred_items_with_faults_everywhere_end_paid_once_and_reconciled(
    fake_stripe, project, monkeypatch, settings
):
    rng = random.Random(14)
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.5
    settings.QUORUM_PAYOUT_MINIMUM_MINOR = {"USD": 500}
    fake_stripe.balance_set("usd", 10_000_000)
    disabled = [stripe_account(fake_stripe) for _ in range(3)]
    for account in disabled:
        fake_stripe.account_set(account, capabilities={"transfers": "inactive"})
    people = []
    for i in range(N):
        destination = disabled[i] if i < 3 else stripe_account(fake_stripe)
        people.append(stripe_person(project, 1_000 + i, destination))
    owed = {p.pk: 1_000 + i for i, p in enumerate(people)}
    creator, approver = finance_user(), finance_user()
    run = create_run(creator, currency="USD", provider="stripe_connect")
    assert run.item_count == N and run.frozen_total_minor == sum(owed.values())

    # Faults of the first pass, on Stripe's side: not made (500), made but unanswered
    # (timeout, dropped connection), refused (insufficient balance); transfers not enabled for
    # the first three people.
    fake_stripe.inject("POST /v1/transfers", "500", times=12)
    fake_stripe.inject("POST /v1/transfers", "timeout", times=8, seconds=1.0)
    fake_stripe.inject("POST /v1/transfers", "disconnect", times=8)
    fake_stripe.inject(
        "POST /v1/transfers",
        "error",
        times=3,
        status=400,
        error={"code": "balance_insufficient", "message": "You have insufficient funds."},
    )
    # ...and on Quorum's: the worker dies right after Stripe answered, 10 times.
    record = services.payout_item_record_outcome
    deaths = {"left": 10}

    def dying_record(**kwargs):
        if deaths["left"] > 0 and kwargs["outcome"].kind == "succeeded":
            deaths["left"] -= 1
            raise WorkerKilled
        return record(**kwargs)

    monkeypatch.setattr(services, "payout_item_record_outcome", dying_record)
    queue = Queue()
    monkeypatch.setattr(services, "_enqueue", queue)
    now = timezone.now()

    committed(services.payout_run_approve, run_id=run.pk, actor=approver)
    killed = queue.drain(now, rng)

    statuses = Counter(PayoutItem.objects.filter(run=run).values_list("status", flat=True))
    assert killed == 10
    assert statuses[PayoutItemStatus.PROCESSING] == 10  # the killed workers' items
    assert statuses[PayoutItemStatus.AMBIGUOUS] >= 20  # 500s, timeouts, dropped connections
    # Refused for good: transfers not enabled, insufficient balance (a refusal may meet an item
    # that a 500 met first: it fails on its retry instead).
    assert statuses[PayoutItemStatus.FAILED] >= 3

    # Out of order: Stripe reverses the transfer of an item whose worker died before recording
    # it; the webhook arrives (twice) before Quorum learnt the outcome.
    orphan = PayoutItem.objects.filter(run=run, status=PayoutItemStatus.PROCESSING).first()
    orphan_transfer = next(
        t for t in fake_stripe.transfers.values() if t["metadata"]["quorum_item"] == str(orphan.pk)
    )
    stripe_client().v1.transfers.reversals.create(orphan_transfer["id"])
    reversed_event = next(
        e
        for e in fake_stripe.events.values()
        if e["type"] == "transfer.reversed" and e["data"]["object"]["id"] == orphan_transfer["id"]
    )
    deliver(reversed_event)
    deliver(reversed_event)
    orphan.refresh_from_db()
    assert orphan.status == PayoutItemStatus.RETURNED
    assert StripeEvent.objects.filter(pk=reversed_event["id"]).count() == 1

    # Later: the sweep finds ambiguous items due and items whose worker died; two of them
    # waited past Stripe's key window and are settled from Stripe's list instead.
    later = now + timedelta(minutes=10)
    expired = list(
        PayoutItem.objects.filter(run=run, status=PayoutItemStatus.AMBIGUOUS).values_list(
            "pk", flat=True
        )[:2]
    )
    PayoutItem.objects.filter(pk__in=expired).update(key_first_used_at=now - timedelta(hours=30))
    rounds = 0
    while due := services.payout_items_due(now=later):
        rounds += 1
        assert rounds < 10
        for item_id in due:
            queue(services.PAYOUT_ITEM_EXECUTE_TASK, item_id)
        queue.drain(later, rng)
        later += timedelta(hours=2)

    # A succeeded transfer reversed afterwards, its webhook repeated, and an older event of the
    # same transfer (transfer.created) arriving after it.
    paid_item = PayoutItem.objects.filter(run=run, status=PayoutItemStatus.SUCCEEDED).last()
    stripe_client().v1.transfers.reversals.create(paid_item.provider_reference)
    events = [
        e
        for e in fake_stripe.events.values()
        if e["data"]["object"].get("id") == paid_item.provider_reference
    ]
    for event in sorted(events, key=lambda e: e["type"] != "transfer.reversed") * 2:
        deliver(event)
    # A connected account's payout to the bank fails: the person is told.
    payout = fake_stripe.payout_create(paid_item.destination, 100, "usd")
    deliver(fake_stripe.payout_fail(payout["id"], "account_closed", "The bank account is closed."))

    run.refresh_from_db()
    items = list(PayoutItem.objects.filter(run=run))
    statuses = Counter(item.status for item in items)
    assert run.status == PayoutRunStatus.DONE, statuses
    assert statuses[PayoutItemStatus.RETURNED] == 2
    assert set(statuses) <= {
        PayoutItemStatus.SUCCEEDED,
        PayoutItemStatus.FAILED,
        PayoutItemStatus.RETURNED,
    }
    # Nobody paid twice: one transfer at most per item, and what Stripe kept transferred for
    # each item is its amount if it succeeded, else nothing.
    transfers_per_item = defaultdict(list)
    for transfer in fake_stripe.transfers.values():
        transfers_per_item[int(transfer["metadata"]["quorum_item"])].append(transfer)
    assert max(len(ts) for ts in transfers_per_item.values()) == 1
    for item in items:
        net = sum(t["amount"] - t["amount_reversed"] for t in transfers_per_item[item.pk])
        assert net == (item.amount_minor if item.status == PayoutItemStatus.SUCCEEDED else 0)
    # Nobody lost: every cent of each person is paid or back in payable, none in transit.
    for person in people:
        assert balance_minor(person, IN_TRANSIT, "USD") == 0
        assert (
            balance_minor(person, PAID, "USD") + balance_minor(person, PAYABLE, "USD")
            == owed[person.pk]
        )
    assert_ledger_clean()
    assert services.payout_runs_reconcile(run_ids=[run.pk]) == {run.pk: []}
    assert Notification.objects.filter(kind="payout", title__contains="refused").exists()
    failed = [item for item in items if item.status == PayoutItemStatus.FAILED]
    assert {p.pk for p in people[:3]} <= {item.person_id for item in failed}
    assert all(
        "capabilities" in item.provider_message
        or "insufficient funds" in item.provider_message
        or (item.pk in expired and "made no transfer" in item.provider_message)
        for item in failed
    ), [item.provider_message for item in failed]
    # The expired keys were settled from Stripe's list, not called again with a new key.
    assert all(PayoutItem.objects.get(pk=pk).attempt == 1 for pk in expired)


def test_reconciliation_reports_a_transfer_stripe_made_that_quorum_does_not_know(
    fake_stripe, project
):
    fake_stripe.balance_set("usd", 1_000_000)
    stripe_person(project, 2_000, stripe_account(fake_stripe))
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")
    committed(services.payout_run_approve, run_id=run.pk, actor=finance_user())
    run.refresh_from_db()
    assert run.status == PayoutRunStatus.DONE
    stranger = stripe_account(fake_stripe)
    stripe_client().v1.transfers.create(
        params={
            "amount": 777,
            "currency": "usd",
            "destination": stranger,
            "transfer_group": run.transfer_group,
        }
    )

    found = services.payout_runs_reconcile(run_ids=[run.pk])

    assert [d["code"] for d in found[run.pk]] == ["unknown_transfer"]
    run.refresh_from_db()
    assert run.reconciliation_differences[0]["action"]
