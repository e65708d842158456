"""Payout runs under concurrency on PostgreSQL, with real threads: the same item executed by
four workers at once calls Stripe once; two finance users approving at once approve once."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from core.errors import Conflict
from payments.models import PayoutItem, PayoutItemStatus, PayoutRun, PayoutRunStatus
from payments.services import payout_runs as services
from tests.payments.payout_runs.helpers import (
    IN_TRANSIT,
    PAID,
    balance_minor,
    create_run,
    finance_user,
    stripe_account,
    stripe_person,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(workers: int, work) -> list[object]:
    barrier = threading.Barrier(workers)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_four_workers_executing_one_item_at_once_make_one_transfer(
    fake_stripe, project, monkeypatch
):
    fake_stripe.balance_set("usd", 1_000_000)
    person = stripe_person(project, 2_000, stripe_account(fake_stripe))
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")
    monkeypatch.setattr(services, "_enqueue", lambda *args, **kwargs: None)  # no eager dispatch
    services.payout_run_approve(run_id=run.pk, actor=finance_user())
    services.payout_run_dispatch(run_id=run.pk)
    item = PayoutItem.objects.get(run=run)
    fake_stripe.inject("POST /v1/transfers", "delay", times=4, seconds=0.5)

    at_once(4, lambda: services.payout_item_execute(item_id=item.pk))

    item.refresh_from_db()
    assert item.status == PayoutItemStatus.SUCCEEDED and item.calls == 1
    assert len(fake_stripe.requests("POST", "/v1/transfers")) == 1
    assert (balance_minor(person, PAID, "USD"), balance_minor(person, IN_TRANSIT, "USD")) == (
        2_000,
        0,
    )


def test_two_finance_users_approving_at_once_approve_once(project, monkeypatch):
    from tests.payments.payout_runs.helpers import bank_person

    bank_person(project, 2_000)
    run = create_run(finance_user())
    monkeypatch.setattr(services, "_enqueue", lambda *args, **kwargs: None)
    approvers = [finance_user(), finance_user()]
    turn = iter(approvers)
    lock = threading.Lock()

    def approve() -> object:
        with lock:
            approver = next(turn)
        return services.payout_run_approve(run_id=run.pk, actor=approver)

    results = at_once(2, approve)

    assert sum(isinstance(r, PayoutRun) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert PayoutRun.objects.get(pk=run.pk).status == PayoutRunStatus.APPROVED
