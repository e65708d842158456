"""A Stripe run paid by real Celery worker processes (two, prefork, on the `payouts` queue)
through Redis and PostgreSQL, against the fake Stripe server, with 500s and timeouts after the
transfer was made: every item is paid exactly once and the run reconciles."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections import Counter

import pytest

from payments.models import PayoutItem, PayoutItemStatus, PayoutRun, PayoutRunStatus
from payments.services.payout_runs import payout_run_approve, payout_runs_reconcile
from tests.core.test_celery import (
    CELERY_BIN,
    PROJECT_ROOT,
    WORKER_START_TIMEOUT,
    _database_url,
    _show,
    _stop,
    _worker_answers,
)
from tests.payments.payout_runs.helpers import (
    IN_TRANSIT,
    PAID,
    assert_ledger_clean,
    balance_minor,
    create_run,
    finance_user,
    stripe_account,
    stripe_person,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.real_celery,
    pytest.mark.django_db(transaction=True),
]

N = 30


@pytest.fixture
def payouts_worker(request, tmp_path_factory, django_db_setup, fake_stripe):
    """A real `celery worker` with two processes on the `payouts` queue, pointed at the fake
    Stripe server; yields its node name."""
    node = f"payouts-{uuid.uuid4().hex}"
    name = f"{node}@{socket.gethostname()}"
    log_path = tmp_path_factory.mktemp("payouts-worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": _database_url(),
        "STRIPE_API_KEY": fake_stripe.api_key,
        "STRIPE_API_BASE": fake_stripe.url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "STRIPE_READ_TIMEOUT_SECONDS": "1",
    }
    command = [
        str(CELERY_BIN),
        "-A",
        "config",
        "worker",
        "-Q",
        "payouts",
        "--pool=prefork",
        "--concurrency=2",
        "-n",
        f"{node}@%h",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "info",
    ]
    failed_before = request.session.testsfailed
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not _worker_answers(name):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"payouts worker did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield name
    finally:
        _stop(process)
        if request.session.testsfailed > failed_before:
            _show(request, f"\n--- payouts worker log ---\n{log_path.read_text()}")


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_two_worker_processes_pay_every_item_once_despite_500s_and_timeouts(
    payouts_worker, fake_stripe, project
):
    fake_stripe.balance_set("usd", 10_000_000)
    people = [stripe_person(project, 1_000 + i, stripe_account(fake_stripe)) for i in range(N)]
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")
    wait_for(lambda: PayoutRun.objects.get(pk=run.pk).status == PayoutRunStatus.FROZEN, 30)
    fake_stripe.inject("POST /v1/transfers", "500", times=3)
    fake_stripe.inject("POST /v1/transfers", "timeout", times=3, seconds=2.0)

    payout_run_approve(run_id=run.pk, actor=finance_user())

    # Ambiguous items are retried with the same key after their first wait (15 s).
    wait_for(lambda: PayoutRun.objects.get(pk=run.pk).status == PayoutRunStatus.DONE, 90)
    statuses = Counter(PayoutItem.objects.filter(run=run).values_list("status", flat=True))
    assert statuses == {PayoutItemStatus.SUCCEEDED: N}
    per_item = Counter(t["metadata"]["quorum_item"] for t in fake_stripe.transfers.values())
    assert len(per_item) == N and set(per_item.values()) == {1}
    assert all(balance_minor(p, IN_TRANSIT, "USD") == 0 for p in people)
    assert sum(balance_minor(p, PAID, "USD") for p in people) == sum(1_000 + i for i in range(N))
    replayed = [r for r in fake_stripe.requests("POST", "/v1/transfers") if r.replayed]
    assert len(replayed) >= 3  # the timed-out transfers, answered from Stripe's key store
    assert_ledger_clean()
    assert payout_runs_reconcile(run_ids=[run.pk]) == {run.pk: []}
