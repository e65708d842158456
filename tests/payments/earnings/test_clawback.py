"""Clawback: an earning reversed after it became payable takes its pay back from payable, once,
with its reason; payable may go below zero when the money was already paid out (owed)."""

import pytest

from kit.money import Micros
from payments.models import AccountKind, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from payments.services.earnings import earning_reverse
from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker
from tests.payments.earnings.helpers import (
    TASK_RATE,
    earnings_of,
    expected_payable,
    payable,
    pending,
    price,
)

pytestmark = pytest.mark.django_db


def test_reversing_a_payable_earning_claws_it_back_once_with_its_reason():
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 2)
    worker = make_worker()
    annotate(project, worker)
    annotate(project, worker)
    first = earnings_of(worker)[0]
    assert payable(worker) == 2 * TASK_RATE

    reversed_ = earning_reverse(earning=first, reason="Customer found it wrong", actor=None)
    count = LedgerTransaction.objects.count()
    again = earning_reverse(earning=first, reason="Another reason", actor=None)

    assert reversed_.status == again.status == "reversed"
    assert again.reversal_reason == "Customer found it wrong"
    assert LedgerTransaction.objects.count() == count
    assert payable(worker) == TASK_RATE and pending(worker) == 0
    assert LedgerTransaction.objects.get(reverses=first.accrued_by).reason == (
        "Customer found it wrong"
    )
    assert LedgerTransaction.objects.get(reverses=first.finalised_by).reason == (
        "Customer found it wrong"
    )
    assert payable(worker) == expected_payable(worker)
    assert ledger_reconciliation().is_clean


def test_a_clawback_after_payout_leaves_payable_below_zero():
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 1)
    worker = make_worker()
    annotate(project, worker)
    (earning,) = earnings_of(worker)
    payable_account = ledger_account_get_or_create(
        kind=AccountKind.PAYABLE, currency="USD", user=worker
    )
    transit = ledger_account_get_or_create(kind=AccountKind.IN_TRANSIT, currency="USD", user=worker)
    ledger_post(
        source_key="test:payout",
        legs=[
            Leg(account=payable_account, amount=Micros(-TASK_RATE, "USD")),
            Leg(account=transit, amount=Micros(TASK_RATE, "USD")),
        ],
        actor=None,
    )

    earning_reverse(earning=earning, reason="Fraud", actor=None)

    assert payable(worker) == -TASK_RATE  # owed, shown as such
    assert ledger_reconciliation().is_clean


def test_a_reversal_of_a_sub_cent_payable_earning_keeps_payable_whole():
    project = make_project(gold_warmup=0)
    price(project, annotation=3_500)
    add_tasks(project, 3)
    worker = make_worker()
    for _ in range(3):
        annotate(project, worker)
    assert (payable(worker), pending(worker)) == (10_000, 500)

    earning_reverse(earning=earnings_of(worker)[2], reason="Wrong", actor=None)

    # 0.7 cent of payable earnings left: nothing whole is payable, 0.7 cent waits in pending.
    assert (payable(worker), pending(worker)) == (0, 7_000)
    assert payable(worker) == expected_payable(worker)
    assert ledger_reconciliation().is_clean


def test_a_reversal_needs_a_reason():
    from core.errors import ValidationFailed

    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 1)
    worker = make_worker()
    annotate(project, worker)

    with pytest.raises(ValidationFailed) as caught:
        earning_reverse(earning=earnings_of(worker)[0], reason="  ", actor=None)

    assert "reason" in caught.value.extra["fields"]
