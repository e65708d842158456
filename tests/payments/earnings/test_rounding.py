"""Sub-minor-unit rates: micros accumulate in pending and round down only when they move to
payable; the remainder is carried, never lost, and never taken from work still pending."""

import pytest

from payments.models import EarningRemainder
from payments.selectors.ledger import ledger_reconciliation
from tests.labeling.factories import (
    add_tasks,
    annotate,
    make_project,
    make_worker,
    review,
    review_project,
)
from tests.payments.earnings.helpers import expected_payable, payable, pending, price

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("currency", "rate_micros", "payable_after_three", "carried"),
    [
        ("USD", 3_500, 10_000, 500),  # 0.35 cent a task: 1 cent payable, 0.05 cent carried
        ("JPY", 400_000, 1_000_000, 200_000),  # 0 decimals: 0.4 yen a task, 1 yen payable
        ("KWD", 1_500, 4_000, 500),  # 3 decimals: 1.5 fils a task, 4 fils payable
    ],
)
def test_sub_minor_rates_round_down_into_payable_and_carry_the_rest(
    currency, rate_micros, payable_after_three, carried
):
    project = make_project(gold_warmup=0)
    price(project, annotation=rate_micros, currency=currency)
    add_tasks(project, 3)
    worker = make_worker()

    for _ in range(3):
        annotate(project, worker)

    assert payable(worker, currency) == payable_after_three
    assert pending(worker, currency) == carried
    assert EarningRemainder.objects.get(user=worker, currency=currency).micros == carried
    assert payable(worker, currency) + pending(worker, currency) == 3 * rate_micros
    assert payable(worker, currency) == expected_payable(worker, currency)
    assert ledger_reconciliation().is_clean


def test_finalising_one_earning_never_moves_the_micros_of_work_still_pending():
    project = review_project()
    price(project, annotation=7_000)  # 0.7 cent
    add_tasks(project, 2)
    worker = make_worker()
    from accounts.models import Role
    from tests.factories import make_user

    annotate(project, worker)
    annotate(project, worker)
    assert pending(worker) == 14_000  # two pending earnings, 1.4 cent together

    review(project, make_user(Role.REVIEWER, level=1), "approve")

    # Only the approved 0.7 cent is final: less than a cent, nothing moves yet.
    assert payable(worker) == 0
    assert pending(worker) == 14_000

    review(project, make_user(Role.REVIEWER, level=1), "approve")

    assert payable(worker) == 10_000 and pending(worker) == 4_000
