"""Four workers closing the same period at once, on PostgreSQL: each person is paid once, the
totals agree, and nobody deadlocks (each batch holds the period row)."""

import threading
from datetime import timedelta

import pytest
from django.db import connections

from accounts.models import Role
from core.models import AuditEvent
from payments.models import IncentiveBonusLine, IncentivePeriod, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from payments.services.incentives import incentive_period_close_run, incentive_period_close_start
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.incentives.helpers import WEEK, program, rolled_up_until, work

WORKERS = 4
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_four_workers_closing_one_period_pay_each_person_once():
    rolled_up_until(WEEK + timedelta(days=7))
    project = make_project()
    people = [make_user(Role.ANNOTATOR) for _ in range(12)]
    for n, person in enumerate(people):
        work(person, project, final_tasks=10 + n)
    quality_week = program(budget_minor=9_000, budget_policy="stop")
    period = incentive_period_close_start(
        program=quality_week, starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8)
    )
    start = threading.Barrier(WORKERS)
    errors: list[str] = []

    def close() -> None:
        try:
            start.wait(timeout=30)
            incentive_period_close_run(period_id=period.pk, batch_size=3)
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert IncentivePeriod.objects.get().status == "closed"
    assert IncentiveBonusLine.objects.count() == 12
    assert LedgerTransaction.objects.filter(source_key__startswith="incentive:").count() == 9
    assert IncentivePeriod.objects.get().paid_minor == 9_000
    assert ledger_reconciliation().is_clean
    assert AuditEvent.objects.filter(action="incentives.period_closed").count() == 1
