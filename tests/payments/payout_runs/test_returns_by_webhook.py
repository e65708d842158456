"""Money that comes back after a Stripe item was paid: a person's payout to their bank that
failed (payout.failed: Quorum takes back what that payout carried of its transfers) and
transfers reversed at Stripe, in parts (transfer.reversed). Each reversal returns its amount
to payable once, whatever the order and number of deliveries; a reversal Stripe refuses leaves
the money where it is and is shown to finance and the person. Against the fake Stripe server."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict
from payments.models import (
    LedgerTransaction,
    PayoutItem,
    PayoutItemStatus,
    PayoutReversal,
    StripeEvent,
    StripeEventStatus,
)
from payments.services import payout_runs as services
from payments.services.stripe_events import stripe_event_process
from payments.stripe_client import stripe_client
from tests.payments.fake_stripe import FakeStripe
from tests.payments.payout_runs.helpers import (
    PAID,
    PAYABLE,
    assert_ledger_clean,
    balance_minor,
    committed,
    create_run,
    deliver_event,
    finance_user,
    give_payable,
    stripe_account,
    stripe_person,
)
from workforce.models import Notification

pytestmark = pytest.mark.django_db


def paid_person(fake: FakeStripe, project: Any, minor: int) -> tuple[User, PayoutItem]:
    """A person paid `minor` US cents by a Stripe run (one transfer to their connected account)."""
    fake.balance_set("usd", 1_000_000)
    person = stripe_person(project, minor, stripe_account(fake))
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")
    committed(services.payout_run_approve, run_id=run.pk, actor=finance_user())
    item = PayoutItem.objects.get(run=run, person=person)
    assert item.status == PayoutItemStatus.SUCCEEDED
    assert balance_minor(person, PAID, "USD") == minor
    return person, item


def reversed_events(fake: FakeStripe, transfer_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in fake.events.values()
        if e["type"] == "transfer.reversed" and e["data"]["object"]["id"] == transfer_id
    ]


def returns_posted(item: PayoutItem) -> int:
    return LedgerTransaction.objects.filter(
        source_key__startswith=f"payout_item:{item.pk}:reversal:"
    ).count()


def notes(person: User, title_part: str) -> list[Notification]:
    return list(Notification.objects.filter(user=person, kind="payout", title__contains=title_part))


def test_a_failed_payout_takes_back_what_it_carried_and_returns_it_to_payable_once(
    fake_stripe, project
):
    person, item = paid_person(fake_stripe, project, 2_000)
    payout = fake_stripe.payout_create(item.destination)  # automatic: carries the 20.00
    failed = fake_stripe.payout_fail(payout["id"], "account_closed", "The bank account is closed.")

    deliver_event(failed)
    deliver_event(failed)  # Stripe delivering it again
    # The reversal's own webhook, after; then Stripe sending a second event about the payout.
    for event in reversed_events(fake_stripe, item.provider_reference):
        deliver_event(event)
    deliver_event(
        fake_stripe.event_create(
            "payout.failed", fake_stripe.payouts[payout["id"]], account=item.destination
        )
    )

    item.refresh_from_db()
    assert item.status == PayoutItemStatus.RETURNED
    assert "The bank account is closed. (account_closed)" in item.provider_message
    assert "20.00 USD of 20.00 USD returned in all" in item.provider_message
    assert balance_minor(person, PAYABLE, "USD") == 2_000
    assert balance_minor(person, PAID, "USD") == 0
    at_stripe = [
        r for r in fake_stripe.reversals.values() if r["transfer"] == item.provider_reference
    ]
    assert [r["amount"] for r in at_stripe] == [2_000]
    assert at_stripe[0]["metadata"]["quorum_item"] == str(item.pk)
    assert list(
        PayoutReversal.objects.filter(item=item).values_list("status", "amount_minor", "payout")
    ) == [("returned", 2_000, payout["id"])]
    assert returns_posted(item) == 1
    listed = fake_stripe.requests("GET", "/v1/balance_transactions")
    assert listed and {r.stripe_account for r in listed} == {item.destination}
    assert {r.params["payout"] for r in listed} == {payout["id"]}
    asked = fake_stripe.requests("POST", f"/v1/transfers/{item.provider_reference}/reversals")
    assert [r.idempotency_key for r in asked] == [
        f"quorum-payout-item-{item.pk}-payout-{payout['id']}-reversal"
    ]
    told = notes(person, "refused")
    assert [n.title for n in told] == ["Your bank refused a payout of 20.00 USD"]
    assert "account_closed" in told[0].body and "payable balance" in told[0].body
    assert notes(person, "returned") == []
    assert not StripeEvent.objects.exclude(status=StripeEventStatus.PROCESSED).exists()
    assert_ledger_clean()
    assert services.payout_runs_reconcile(run_ids=[item.run_id]) == {item.run_id: []}


def test_the_reversal_webhook_before_the_payout_event_is_retried_returns_the_money_once(
    fake_stripe, project, settings
):
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.5
    person, item = paid_person(fake_stripe, project, 2_000)
    payout = fake_stripe.payout_create(item.destination)
    failed = fake_stripe.payout_fail(payout["id"], "account_closed", "The bank account is closed.")
    # Stripe makes the reversal but its answer never arrives.
    fake_stripe.inject("POST /v1/transfers/*/reversals", "timeout", seconds=1.0)

    first = deliver_event(failed)
    kept_paid = balance_minor(person, PAID, "USD")
    for event in reversed_events(fake_stripe, item.provider_reference):
        deliver_event(event)
    StripeEvent.objects.filter(pk=failed["id"]).update(next_attempt_at=timezone.now())
    again = committed(stripe_event_process, event_id=failed["id"])

    assert first.status == StripeEventStatus.PENDING and "Timeout" in first.last_error
    assert kept_paid == 2_000  # nothing returned while Stripe's answer is unknown
    assert again.status == StripeEventStatus.PROCESSED
    # The retry found the reversal recorded by its webhook and did not ask Stripe again.
    asked = fake_stripe.requests("POST", f"/v1/transfers/{item.provider_reference}/reversals")
    assert len(asked) == 1 and asked[0].fault == "timeout"
    assert len(fake_stripe.reversals) == 1
    assert balance_minor(person, PAYABLE, "USD") == 2_000
    assert balance_minor(person, PAID, "USD") == 0
    assert PayoutReversal.objects.filter(item=item).count() == 1
    assert returns_posted(item) == 1
    told = notes(person, "returned")
    assert len(told) == 1 and "The bank account is closed." in told[0].body
    assert notes(person, "refused") == []
    assert_ledger_clean()
    assert services.payout_runs_reconcile(run_ids=[item.run_id]) == {item.run_id: []}


def test_a_reversal_whose_answer_was_lost_is_asked_again_with_the_same_key(
    fake_stripe, project, settings
):
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.5
    person, item = paid_person(fake_stripe, project, 2_000)
    payout = fake_stripe.payout_create(item.destination)
    failed = fake_stripe.payout_fail(payout["id"], "account_closed", "The bank account is closed.")
    fake_stripe.inject("POST /v1/transfers/*/reversals", "timeout", seconds=1.0)

    first = deliver_event(failed)
    StripeEvent.objects.filter(pk=failed["id"]).update(next_attempt_at=timezone.now())
    again = committed(stripe_event_process, event_id=failed["id"])
    for event in reversed_events(fake_stripe, item.provider_reference):
        deliver_event(event)

    assert first.status == StripeEventStatus.PENDING
    assert again.status == StripeEventStatus.PROCESSED
    asked = fake_stripe.requests("POST", f"/v1/transfers/{item.provider_reference}/reversals")
    assert len(asked) == 2 and len({r.idempotency_key for r in asked}) == 1
    assert asked[1].replayed
    assert len(fake_stripe.reversals) == 1
    assert balance_minor(person, PAYABLE, "USD") == 2_000
    assert returns_posted(item) == 1
    assert len(notes(person, "refused")) == 1 and notes(person, "returned") == []
    assert_ledger_clean()


def test_two_partial_reversals_return_each_part_once_in_any_order(fake_stripe, project):
    person, item = paid_person(fake_stripe, project, 1_000)
    client = stripe_client()
    client.v1.transfers.reversals.create(item.provider_reference, params={"amount": 300})
    deliver_event(reversed_events(fake_stripe, item.provider_reference)[-1])
    returned_first = balance_minor(person, PAYABLE, "USD")

    client.v1.transfers.reversals.create(item.provider_reference, params={"amount": 200})
    first, second = reversed_events(fake_stripe, item.provider_reference)
    for event in (second, first, second):
        deliver_event(event)
    # Stripe sending the older state of the transfer again, as a new event.
    deliver_event(fake_stripe.event_create("transfer.reversed", first["data"]["object"]))

    item.refresh_from_db()
    assert returned_first == 300
    assert balance_minor(person, PAYABLE, "USD") == 500
    assert balance_minor(person, PAID, "USD") == 500
    assert item.status == PayoutItemStatus.RETURNED
    assert "5.00 USD of 10.00 USD returned in all" in item.provider_message
    assert sorted(
        PayoutReversal.objects.filter(item=item).values_list("amount_minor", flat=True)
    ) == [200, 300]
    assert returns_posted(item) == 2
    assert sorted(n.title for n in notes(person, "returned")) == [
        "Payout of 2.00 USD returned",
        "Payout of 3.00 USD returned",
    ]
    assert_ledger_clean()
    # Stripe keeps 5.00 transferred for the item, which is what the item still counts paid.
    assert services.payout_runs_reconcile(run_ids=[item.run_id]) == {item.run_id: []}


def test_a_reversal_stripe_refuses_leaves_the_money_paid_and_shows_it(fake_stripe, project, client):
    person, item = paid_person(fake_stripe, project, 2_000)
    payout = fake_stripe.payout_create(item.destination)
    failed = fake_stripe.payout_fail(payout["id"], "no_account", "The bank account is unknown.")
    # Before Quorum hears of it, the returned balance was paid out again.
    again = fake_stripe.payout_create(item.destination, 2_000, "usd", automatic=False)

    deliver_event(failed)
    deliver_event(failed)

    item.refresh_from_db()
    assert item.status == PayoutItemStatus.SUCCEEDED
    assert "Stripe refused to take 20.00 USD back" in item.provider_message
    assert "balance_insufficient" in item.provider_message
    assert balance_minor(person, PAID, "USD") == 2_000
    assert balance_minor(person, PAYABLE, "USD") == 0
    assert list(
        PayoutReversal.objects.filter(item=item).values_list("status", "amount_minor", "payout")
    ) == [("refused", 2_000, payout["id"])]
    assert returns_posted(item) == 0
    assert fake_stripe.reversals == {}
    told = notes(person, "refused")
    assert len(told) == 1 and "could not be taken back" in told[0].body
    found = services.payout_runs_reconcile(run_ids=[item.run_id])
    assert [d["code"] for d in found[item.run_id]] == ["reversal_refused"]
    assert found[item.run_id][0]["item"] == item.pk
    assert_ledger_clean()
    client.force_login(person)
    assert "Stripe refused to take" in client.get(reverse("payments:my_payouts")).content.decode()

    # Later the money is back in the person's Stripe balance and finance reverses the
    # transfer in Stripe's dashboard: it returns to payable, and the difference goes.
    fake_stripe.payout_fail(again["id"], "no_account", "The bank account is unknown.")
    stripe_client().v1.transfers.reversals.create(item.provider_reference)
    for event in reversed_events(fake_stripe, item.provider_reference):
        deliver_event(event)

    assert balance_minor(person, PAYABLE, "USD") == 2_000
    assert services.payout_runs_reconcile(run_ids=[item.run_id]) == {item.run_id: []}
    assert_ledger_clean()


def test_a_failed_manual_payout_only_tells_the_person(fake_stripe, project):
    person, item = paid_person(fake_stripe, project, 2_000)
    payout = fake_stripe.payout_create(item.destination, 500, "usd", automatic=False)

    deliver_event(fake_stripe.payout_fail(payout["id"], "account_closed", "Closed."))

    # Stripe cannot say which transactions a manual payout carried: nothing is taken back.
    assert fake_stripe.requests("GET", "/v1/balance_transactions") == []
    assert fake_stripe.reversals == {}
    assert balance_minor(person, PAID, "USD") == 2_000
    told = notes(person, "refused")
    assert len(told) == 1 and "safe in your Stripe account" in told[0].body


def test_a_payout_returned_in_part_cannot_be_retried_and_its_rest_stays_paid(fake_stripe, project):
    person, item = paid_person(fake_stripe, project, 1_000)
    stripe_client().v1.transfers.reversals.create(item.provider_reference, params={"amount": 400})
    deliver_event(reversed_events(fake_stripe, item.provider_reference)[-1])
    give_payable(person, project, 5_000, "USD", "later-work")  # enough for a whole new transfer

    with pytest.raises(Conflict, match=r"Only 4\.00 USD of this payout of 10\.00 USD came back"):
        services.payout_item_retry(item_id=item.pk, actor=finance_user())

    assert balance_minor(person, PAYABLE, "USD") == 5_400
    assert balance_minor(person, PAID, "USD") == 600
    assert len(fake_stripe.transfers) == 1


def test_a_retried_returned_payout_reconciles_with_its_new_transfer(fake_stripe, project):
    person, item = paid_person(fake_stripe, project, 2_000)
    payout = fake_stripe.payout_create(item.destination)
    deliver_event(fake_stripe.payout_fail(payout["id"], "account_closed", "Closed."))

    committed(services.payout_item_retry, item_id=item.pk, actor=finance_user())

    item.refresh_from_db()
    assert item.status == PayoutItemStatus.SUCCEEDED and item.attempt == 2
    assert balance_minor(person, PAID, "USD") == 2_000
    assert balance_minor(person, PAYABLE, "USD") == 0
    assert_ledger_clean()
    # The first transfer is reversed in full, the second stands: the item is paid once.
    assert services.payout_runs_reconcile(run_ids=[item.run_id]) == {item.run_id: []}


class WorkerKilled(BaseException):
    """The worker process dying: nothing after it in the task runs."""


def test_a_failed_payout_carrying_the_transfer_of_an_item_whose_worker_died_settles_and_returns_it(
    fake_stripe, project, monkeypatch
):
    fake_stripe.balance_set("usd", 1_000_000)
    person = stripe_person(project, 2_000, stripe_account(fake_stripe))
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")

    def killed(**_: Any) -> None:
        raise WorkerKilled  # after Stripe made the transfer, before Quorum recorded it

    monkeypatch.setattr(services, "payout_item_record_outcome", killed)
    with pytest.raises(WorkerKilled):
        committed(services.payout_run_approve, run_id=run.pk, actor=finance_user())
    monkeypatch.undo()
    item = PayoutItem.objects.get(run=run, person=person)
    assert item.status == PayoutItemStatus.PROCESSING and not item.provider_reference
    [transfer] = [t for t in fake_stripe.transfers.values() if t["destination"] == item.destination]
    payout = fake_stripe.payout_create(item.destination)
    failed = fake_stripe.payout_fail(payout["id"], "account_closed", "The bank account is closed.")

    deliver_event(failed)
    deliver_event(failed)

    item.refresh_from_db()
    assert item.provider_reference == transfer["id"]
    assert item.status == PayoutItemStatus.RETURNED
    assert balance_minor(person, PAYABLE, "USD") == 2_000
    assert balance_minor(person, PAID, "USD") == 0
    assert returns_posted(item) == 1
    assert [r["amount"] for r in fake_stripe.reversals.values()] == [2_000]
    assert_ledger_clean()
