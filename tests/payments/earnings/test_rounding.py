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


def test_a_persons_pay_locked_with_the_earnings_serves_one_move_and_the_next_reads_it_anew():
    from django.db import transaction
    from django.utils import timezone

    from payments.models import Earning
    from payments.selectors.earnings import with_project_name
    from payments.selectors.holds import with_hold_causes
    from payments.services.earnings import _finalise_or_hold, _person_pay_locked

    project = review_project()
    price(project, annotation=7_000)  # 0.7 cent each: together 1.4 cents
    add_tasks(project, 2)
    worker = make_worker()
    annotate(project, worker)
    annotate(project, worker)

    with transaction.atomic():
        earnings = list(
            with_project_name(with_hold_causes(Earning.objects.select_for_update(of=("self",))))
            .filter(user=worker, status="pending")
            .order_by("pk")
        )
        locked = _person_pay_locked(user_id=worker.pk, currency="USD")  # opened, then locked
        _finalise_or_hold(earnings, at=timezone.now(), pay_locked={(worker.pk, "USD"): locked})

    # The second move saw the first one's remainder (0.7 cent), not the state locked before it.
    assert payable(worker) == 10_000 and pending(worker) == 4_000
    assert EarningRemainder.objects.get(user=worker, currency="USD").micros == 4_000
    assert payable(worker) == expected_payable(worker)
    assert ledger_reconciliation().is_clean


def test_a_consensus_task_final_at_once_moves_each_persons_pay_with_their_own_remainder():
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2, gold_warmup=0)
    price(project, annotation=6_000)  # 0.6 cent
    add_tasks(project, 2)
    first, second = make_worker(), make_worker()

    annotate(project, first)
    annotate(project, second)
    annotate(project, first)
    annotate(project, second)  # both tasks final: each person has 2 x 0.6 cent payable

    for person in (first, second):
        assert payable(person) == 10_000 and pending(person) == 2_000
        assert EarningRemainder.objects.get(user=person, currency="USD").micros == 2_000
        assert payable(person) == expected_payable(person)
    assert ledger_reconciliation().is_clean
