"""Dispatching a Stripe run: its items go to the workers a chunk to a task, and each item of a
chunk is paid on its own."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.models import PayoutItemStatus, PayoutRunStatus
from payments.services import payout_runs as services
from tests.payments.payout_runs.helpers import (
    create_run,
    finance_user,
    stripe_account,
    stripe_person,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_run(project, fake_stripe):
    fake_stripe.balance_set("usd", 1_000_000)
    for minor in (2_000, 3_000, 4_000):
        stripe_person(project, minor, stripe_account(fake_stripe))
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")
    services.payout_run_approve(run_id=run.pk, actor=finance_user())
    return run


def test_dispatch_queues_the_items_a_chunk_to_a_task(approved_run, monkeypatch):
    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        services, "_enqueue", lambda name, *args, countdown=None: sent.append((name, args))
    )
    monkeypatch.setattr(services, "EXECUTE_CHUNK", 2)
    ids = sorted(approved_run.items.values_list("pk", flat=True))

    services.payout_run_dispatch(run_id=approved_run.pk)

    assert sent == [
        (services.PAYOUT_ITEMS_EXECUTE_TASK, (ids[:2],)),
        (services.PAYOUT_ITEMS_EXECUTE_TASK, (ids[2:],)),
    ]


def test_an_item_that_raises_leaves_the_rest_of_its_chunk_paid_and_the_error_raised(
    approved_run, monkeypatch
):
    type(approved_run).objects.filter(pk=approved_run.pk).update(status=PayoutRunStatus.EXECUTING)
    ids = sorted(approved_run.items.values_list("pk", flat=True))
    execute = services.payout_item_execute

    def broken_first(*, item_id, now=None, finish_run=True):
        if item_id == ids[0]:
            raise RuntimeError("the database went away")
        return execute(item_id=item_id, now=now, finish_run=finish_run)

    monkeypatch.setattr(services, "payout_item_execute", broken_first)

    with pytest.raises(RuntimeError, match="went away"):
        services.payout_items_execute(item_ids=ids)

    statuses = dict(approved_run.items.values_list("pk", "status"))
    assert statuses == {
        ids[0]: PayoutItemStatus.PENDING,
        ids[1]: PayoutItemStatus.SUCCEEDED,
        ids[2]: PayoutItemStatus.SUCCEEDED,
    }


def test_a_chunk_looks_once_whether_its_run_is_done_and_marks_it_done(
    approved_run, django_capture_on_commit_callbacks
):
    type(approved_run).objects.filter(pk=approved_run.pk).update(status=PayoutRunStatus.EXECUTING)
    ids = sorted(approved_run.items.values_list("pk", flat=True))

    with (
        CaptureQueriesContext(connection) as statements,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.payout_items_execute(item_ids=ids)

    run_updates = [
        q["sql"]
        for q in statements.captured_queries
        if q["sql"].startswith('UPDATE "payments_payoutrun"')
    ]
    assert len(run_updates) == 1
    approved_run.refresh_from_db()
    assert approved_run.status == PayoutRunStatus.DONE
