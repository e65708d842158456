"""The jobs that read the ledger in bulk refresh the planner's statistics of what they read and
write when those changed much since their last analysis (PostgreSQL): the earnings rollup's beat
job and an incentive period's close."""

from datetime import timedelta

import pytest
from django.db.models import Max

from accounts.models import Role
from payments.models import LedgerTransaction
from payments.services.earning_days import earning_days_roll_through
from payments.services.incentives import incentive_period_close
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.incentives.helpers import (
    WEEK,
    accrual,
    program,
    rolled_up_until,
    work,
)
from tests.table_statistics import analyse_now, analyze_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

LEDGER = ("payments_ledgertransaction", "payments_ledgerentry")
CLOSE_READS = (*LEDGER, "quality_personhour")
WRITTEN = ("payments_earningday", "payments_incentivebonusline")


@pytest.fixture
def fresh_statistics():
    analyse_now(CLOSE_READS + WRITTEN)


def people_with_work(count, project):
    people = [make_user(Role.ANNOTATOR) for _ in range(count)]
    for n, person in enumerate(people):
        work(person, project, final_tasks=20)
        accrual(person, project, 1_000_000, f"s{n}", at=WEEK + timedelta(hours=10))
    return people


def changes(before, after):
    return {table: after[table] - before[table] for table in after}


def test_the_earnings_rollup_job_analyses_the_ledger_and_its_cells_after_many_changes(
    settings, fresh_statistics
):
    settings.ANALYZE_AFTER_ROWS = 10
    people_with_work(12, make_project())  # 12 transactions, 24 entries, 12 cells
    before = analyze_counts(LEDGER + WRITTEN)

    earning_days_roll_through(through_id=LedgerTransaction.objects.aggregate(m=Max("pk"))["m"])

    assert changes(before, analyze_counts(LEDGER + WRITTEN)) == {
        "payments_ledgertransaction": 1,
        "payments_ledgerentry": 1,
        "payments_earningday": 1,
        "payments_incentivebonusline": 0,
    }


def test_a_close_analyses_what_it_reads_and_the_lines_it_judged_after_many_changes(
    settings, fresh_statistics
):
    settings.ANALYZE_AFTER_ROWS = 10
    rolled_up_until(WEEK + timedelta(days=7))
    people_with_work(12, make_project())
    week = program()
    before = analyze_counts(CLOSE_READS + WRITTEN)

    incentive_period_close(program=week, starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8))

    counted = changes(before, analyze_counts(CLOSE_READS + WRITTEN))
    assert counted == {
        "payments_ledgertransaction": 1,
        "payments_ledgerentry": 1,
        "quality_personhour": 1,
        "payments_incentivebonusline": 1,
        "payments_earningday": 0,
    }


def test_a_close_after_few_changes_leaves_the_statistics_alone(settings, fresh_statistics):
    settings.ANALYZE_AFTER_ROWS = 1_000
    rolled_up_until(WEEK + timedelta(days=7))
    people_with_work(12, make_project())
    week = program()
    before = analyze_counts(CLOSE_READS + WRITTEN)

    incentive_period_close(program=week, starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8))

    assert analyze_counts(CLOSE_READS + WRITTEN) == before
