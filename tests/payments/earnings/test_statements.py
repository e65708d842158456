"""What pay costs a submission, in statements: the accrual and (without review) the move to
payable that a submit adds, and the rate lookup of work that no card prices."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker, review_project
from tests.payments.earnings.helpers import price
from tests.plans import prepared_plan_reads

pytestmark = pytest.mark.django_db

# Counted 2026-12-07 over a submission of an unpriced project (which costs one statement: the
# pricing read, which finds no version in force). On PostgreSQL an accrual is that read (the
# version, its rates, the project and the two accounts at once) and one posting statement (the
# transaction, its entries, the pending balance and the earning's row); its move to payable when
# the task is final at once adds the task's earnings locked with the three hold checks and, in the
# same statement, their people's accounts and remainders locked, and one posting statement (with
# the remainder and the earning's status). SQLite has no data-modifying CTEs: each write is its
# own statement. Since work that makes its task final is made payable with its accrual (the
# pricing read also locks the task's pending earnings and the pay, the posting also moves the pay
# and records the earning payable): 1 on PostgreSQL, 3 before; before the person's lock joined the
# earnings' read: 4 on PostgreSQL; before
# postings became one statement: 7 and 15 on both; before postings lost their read first, their
# savepoints and the audit trail's copy of each system posting: 13 and 27.
ACCRUAL_STATEMENTS = {"postgresql": 1, "sqlite": 4}
ACCRUAL_AND_FINALISE_STATEMENTS = {"postgresql": 1, "sqlite": 11}
UNPRICED_LOOKUP_STATEMENTS = 1


def _submit_queries(project, worker) -> list[str]:
    lease = slot_claim_next(project=project, user=worker).lease
    with CaptureQueriesContext(connection) as captured:
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
    return [q["sql"] for q in captured.captured_queries]


def _warm(project, worker) -> None:
    # The first submission opens the person's and the project's ledger accounts: once per person;
    # the second prepares the statements of pay whose accounts exist (once per connection).
    annotate(project, worker)
    annotate(project, worker)


def _extra(priced_project, plain_project) -> tuple[int, list[str]]:
    worker = make_worker()
    _warm(priced_project, worker)
    _warm(plain_project, worker)
    priced = _submit_queries(priced_project, worker)
    plain = _submit_queries(plain_project, worker)
    return len(priced) - len(plain), priced


def test_an_accrual_adds_at_most_a_few_statements_to_a_reviewed_submission():
    priced_project, plain_project = review_project(), review_project()
    price(priced_project)
    add_tasks(priced_project, 3), add_tasks(plain_project, 3)

    extra, priced = _extra(priced_project, plain_project)

    print(f"accrual adds {extra} statements; priced submit: {len(priced)}")
    assert 0 < extra <= ACCRUAL_STATEMENTS[connection.vendor]


def test_an_accrual_and_its_move_to_payable_add_a_bounded_number_of_statements():
    priced_project = make_project(gold_warmup=0)
    plain_project = make_project(gold_warmup=0)
    price(priced_project)
    add_tasks(priced_project, 3), add_tasks(plain_project, 3)

    extra, priced = _extra(priced_project, plain_project)

    print(f"accrual and finalise add {extra} statements; priced submit: {len(priced)}")
    assert 0 < extra <= ACCRUAL_AND_FINALISE_STATEMENTS[connection.vendor]


def test_work_no_card_prices_costs_only_the_rate_lookup():
    project = make_project(gold_warmup=0)
    add_tasks(project, 3)
    worker = make_worker()
    _warm(project, worker)

    queries = _submit_queries(project, worker)

    touching_pay = [q for q in queries if "payments_" in q]
    assert len(touching_pay) <= UNPRICED_LOOKUP_STATEMENTS, touching_pay


def test_the_earning_insert_prepares_each_value_as_django_does():
    """The accrual's earning row skips `get_db_prep_save` for fields that leave their values as
    they are: every field's parameter must still be what Django would send."""
    from datetime import UTC, date, datetime
    from enum import Enum

    from payments.models import Earning, EarningStatus, RateUnit, WorkKind
    from payments.services.earnings import _earning_insert, _earning_insert_shape

    earning = Earning(
        user_id=7,
        project_id=8,
        work_kind=WorkKind.REVIEW,
        review_level=2,
        unit=RateUnit.PER_TASK,
        task_id=9,
        annotation_id=None,
        review_id=10,
        earned_on=date(2026, 12, 7),
        active_seconds=42,
        currency="USD",
        amount_micros=3_500,
        rate_version_id=11,
        rate_id=12,
        status=EarningStatus.PENDING,
        created_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
    )
    params = _earning_insert(earning).params
    fields = _earning_insert_shape().fields
    assert set(params) == {field.attname for field in fields}
    for field in fields:
        expected = field.get_db_prep_save(getattr(earning, field.attname), connection)
        assert params[field.attname] == expected, field.attname
        # A choice goes as its plain value (what the driver sends for the enum member), and
        # an integer as a plain one (the prepared statement's argument types type it).
        assert not isinstance(params[field.attname], Enum), field.attname
        assert type(params[field.attname]) in {type(expected), str, int}, field.attname


def test_the_pricing_read_shares_its_objects_only_between_identical_rows():
    """The pricing read's version and rate objects are made once per process for the same
    columns; a version whose row changed (withdrawn) is another object, and so is its rate's."""
    from datetime import UTC, datetime

    from payments.selectors.rates import _rate_of_columns, _version_of_columns

    version = (1, 2, 1, datetime(2026, 12, 1, tzinfo=UTC), "USD", "", None, None, None, None, "")
    card = (2, None, 3, datetime(2026, 12, 1, tzinfo=UTC), None)
    withdrawn = (*version[:8], datetime(2026, 12, 7, tzinfo=UTC), None, "gone")
    rate = (5, 1, "annotation", 0, "", 0, "per_task", 3_500)

    assert _version_of_columns(version + card) is _version_of_columns(version + card)
    assert _rate_of_columns(rate, version + card) is _rate_of_columns(rate, version + card)
    changed = _rate_of_columns(rate, withdrawn + card)
    assert changed.version.withdrawn_at == datetime(2026, 12, 7, tzinfo=UTC)
    assert _rate_of_columns(rate, version + card).version.withdrawn_at is None


@pytest.mark.postgres
def test_a_tasks_earnings_are_read_through_the_task_whatever_the_statistics_say():
    # A connection keeps the plan it made of the task's read (prepared): made while the earnings
    # had no statistics (a fresh database before autovacuum), it must still go through the task's
    # own index, not through one that holds every pending earning.
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 12)
    worker = make_worker()
    for _ in range(12):  # final at once: each submit reads its task's earnings to finalise them
        annotate(project, worker)

    indexes, sequential = prepared_plan_reads("pay_locks", "payments_earning")

    assert indexes == {"payments_earning_task"}
    assert sequential == 0


@pytest.mark.postgres
def test_the_pricing_read_of_work_final_at_once_reads_the_task_through_its_index():
    # The pricing read of work that makes its task final also reads (and locks) the task's pending
    # earnings: its plan, kept by the connection, must go through the task's index too.
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 12)
    worker = make_worker()
    for _ in range(12):
        annotate(project, worker)

    indexes, sequential = prepared_plan_reads("f_pay", "payments_earning")

    assert indexes == {"payments_earning_task"}
    assert sequential == 0
