"""The same discard announced by eight threads at once, on PostgreSQL: each piece of work's pay is
held once, payable leaves payable once, no thread fails, every balance equals its entries."""

import threading

import pytest
from django.db import connections, transaction

from labeling.events import REVERSED_DISCOUNTED, work_reversed_send
from payments.models import Hold, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker
from tests.payments.earnings.helpers import (
    TASK_RATE,
    earnings_of,
    expected_payable,
    payable,
    pending,
    price,
)

THREADS = 8
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_eight_threads_discarding_the_same_work_hold_its_pay_once():
    project = make_project(gold_warmup=0)  # no review: the pay is payable at once
    price(project)
    add_tasks(project, 2)
    worker = make_worker()
    work = [annotate(project, worker), annotate(project, worker)]
    assert payable(worker) == 2 * TASK_RATE
    start = threading.Barrier(THREADS)
    errors: list[str] = []

    def discard() -> None:
        try:
            start.wait(timeout=30)
            with transaction.atomic():
                work_reversed_send(
                    user_id=worker.pk,
                    project_id=project.pk,
                    annotation_ids=[a.pk for a in work],
                    task_ids=[a.task_id for a in work],
                    reason=REVERSED_DISCOUNTED,
                )
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=discard) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert [e.status for e in earnings_of(worker)] == ["held", "held"]
    assert Hold.objects.filter(earning__user=worker, cause="discounted").count() == 2
    assert LedgerTransaction.objects.filter(source_key__startswith="earning:withheld:").count() == 2
    assert payable(worker) == 0 == expected_payable(worker)
    assert pending(worker) == 2 * TASK_RATE
    assert ledger_reconciliation().is_clean
