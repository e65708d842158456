"""Accruals for one person from sixteen threads at once, on PostgreSQL: no lost update, no
deadlock, every balance equal to its entries."""

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from payments.models import Earning, EarningRemainder
from payments.selectors.ledger import ledger_reconciliation
from payments.services.earnings import earning_accrue, earnings_finalise_task, hourly_amount
from tests.labeling.factories import make_project, make_worker
from tests.payments.earnings.helpers import expected_payable, payable, pending
from tests.payments.factories import rate, rate_version

THREADS = 16
ROUNDS = 5
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run(target) -> list[str]:
    errors: list[str] = []

    def wrapped(n: int) -> None:
        try:
            target(n)
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an accrual never finished"
    return errors


def _priced(unit: str, amount: int):
    project = make_project(gold_warmup=0)
    start = timezone.now() - timedelta(minutes=5)
    rate_version(
        rate("annotation", amount, unit=unit), project=project, now=start, effective_from=start
    )
    return project


@pytest.mark.parametrize("announced", [False, True], ids=["two-steps", "payable-with-accrual"])
def test_sixteen_threads_accruing_and_finalising_for_one_person_lose_nothing(announced):
    # `announced`: the submissions say they complete their task, so each is made payable with its
    # own accrual (the pricing read locks the person's pay), as the submit statement's are.
    project = _priced("per_task", 3_500)  # 0.35 cent: the remainder moves on every finalise
    worker = make_worker()
    start = threading.Barrier(THREADS)

    def work(n: int) -> None:
        start.wait(timeout=30)
        for k in range(ROUNDS):
            task = 1_000 * (n + 1) + k
            moment = timezone.now()
            with transaction.atomic():  # one submit: accrued and final together
                earning_accrue(
                    user_id=worker.pk,
                    project_id=project.pk,
                    task_id=task,
                    annotation_id=task,
                    review_id=None,
                    review_level=None,
                    kind="annotate",
                    active_seconds=30,
                    submitted_at=moment,
                    completes_task=announced,
                )
                earnings_finalise_task(task_id=task, at=moment)

    errors = _run(work)

    assert errors == []
    total = THREADS * ROUNDS * 3_500
    assert Earning.objects.filter(user=worker, status="payable").count() == THREADS * ROUNDS
    assert payable(worker) + pending(worker) == total
    assert payable(worker) == expected_payable(worker) == total // 10_000 * 10_000
    assert EarningRemainder.objects.get(user=worker).micros == total % 10_000
    assert ledger_reconciliation().is_clean


def test_sixteen_threads_adding_active_time_to_one_day_lose_no_second():
    project = _priced("per_hour", 7_200_000)  # 7.20 an hour: 2,000 micros a second
    worker = make_worker()
    start = threading.Barrier(THREADS)
    moment = timezone.now()  # one day for every thread, even at midnight

    def work(n: int) -> None:
        start.wait(timeout=30)
        for k in range(ROUNDS):
            annotation = 1_000 * (n + 1) + k
            earning_accrue(
                user_id=worker.pk,
                project_id=project.pk,
                task_id=annotation,
                annotation_id=annotation,
                review_id=None,
                review_level=None,
                kind="annotate",
                active_seconds=7 + n,
                submitted_at=moment,
            )

    errors = _run(work)

    assert errors == []
    (day,) = Earning.objects.filter(user=worker)
    seconds = ROUNDS * sum(7 + n for n in range(THREADS))
    assert day.active_seconds == seconds
    assert day.amount_micros == hourly_amount(seconds=seconds, rate_micros=7_200_000)
    assert pending(worker) == day.amount_micros
    assert ledger_reconciliation().is_clean


def test_sixteen_reviews_finalising_one_persons_work_at_once_move_every_micro():
    project = _priced("per_task", 3_500)
    worker = make_worker()
    tasks = [1_000 * (n + 1) + k for n in range(THREADS) for k in range(ROUNDS)]
    for task in tasks:  # submitted earlier; each task becomes final in its own review
        earning_accrue(
            user_id=worker.pk,
            project_id=project.pk,
            task_id=task,
            annotation_id=task,
            review_id=None,
            review_level=None,
            kind="annotate",
            active_seconds=30,
            submitted_at=timezone.now(),
        )
    start = threading.Barrier(THREADS)

    def finalise(n: int) -> None:
        start.wait(timeout=30)
        for k in range(ROUNDS):
            earnings_finalise_task(task_id=1_000 * (n + 1) + k)

    errors = _run(finalise)

    assert errors == []
    total = len(tasks) * 3_500
    assert payable(worker) == expected_payable(worker) == total // 10_000 * 10_000
    assert pending(worker) == total % 10_000
    assert EarningRemainder.objects.get(user=worker).micros == total % 10_000
    assert ledger_reconciliation().is_clean
