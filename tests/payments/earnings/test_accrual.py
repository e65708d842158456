"""Work drives pay: a submission accrues pending pay, a final task makes it payable, a rejection
or an overruling verdict reverses it once, with its reason; no rate card, no pay."""

import pytest

from accounts.models import Role
from labeling.models import Task
from payments.models import AccountKind, Earning, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from tests.factories import make_user
from tests.labeling.factories import (
    add_tasks,
    annotate,
    make_project,
    make_worker,
    review,
    review_project,
    two_level_project,
)
from tests.payments.earnings.helpers import (
    REVIEW2_RATE,
    REVIEW_RATE,
    TASK_RATE,
    earnings_of,
    payable,
    pending,
    price,
    rework,
)

pytestmark = pytest.mark.django_db


def test_a_submission_without_review_accrues_and_becomes_payable_at_once():
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 1)
    worker = make_worker()

    annotation = annotate(project, worker)

    (earning,) = earnings_of(worker)
    assert earning.annotation_id == annotation.pk
    assert earning.status == "payable"
    assert earning.amount_micros == TASK_RATE
    assert earning.rate_version.card.project_id == project.pk
    assert payable(worker) == TASK_RATE and pending(worker) == 0
    accrual = LedgerTransaction.objects.get(source_key=f"earning:accrue:annotation:{annotation.pk}")
    assert accrual.memo == f"Annotation of task {annotation.task_id} in {project.name}"
    assert LedgerTransaction.objects.filter(source_key=f"earning:final:{earning.pk}").exists()


def test_reviewed_work_stays_pending_until_the_review_makes_it_final():
    project = review_project()
    price(project)
    add_tasks(project, 1)
    worker, reviewer = make_worker(), make_user(Role.REVIEWER, level=1)

    annotate(project, worker)
    assert pending(worker) == TASK_RATE and payable(worker) == 0

    review(project, reviewer, "approve")

    assert payable(worker) == TASK_RATE and pending(worker) == 0
    (verdict,) = earnings_of(reviewer)
    assert (verdict.work_kind, verdict.review_level, verdict.amount_micros) == (
        "review",
        1,
        REVIEW_RATE,
    )
    assert verdict.status == "payable" and payable(reviewer) == REVIEW_RATE


def test_rejected_work_is_reversed_once_with_the_review_and_its_rework_earns_anew():
    project = review_project()
    price(project)
    add_tasks(project, 1)
    worker, reviewer = make_worker(), make_user(Role.REVIEWER, level=1)
    first = annotate(project, worker)

    rejection = review(project, reviewer, "reject", reason="wrong_label")

    (earning,) = earnings_of(worker)
    assert earning.status == "reversed"
    assert earning.reversal_review_id == rejection.pk
    assert str(rejection.pk) in earning.reversal_reason
    assert pending(worker) == 0
    assert LedgerTransaction.objects.get(reverses=earning.accrued_by).reason == (
        earning.reversal_reason
    )

    second = rework(project, worker)
    review(project, make_user(Role.REVIEWER, level=1), "approve")

    assert second.pk != first.pk
    assert [e.status for e in earnings_of(worker)] == ["reversed", "payable"]
    assert payable(worker) == TASK_RATE
    assert ledger_reconciliation().is_clean


def test_a_level_one_approval_overruled_at_level_two_loses_its_pay():
    project = two_level_project()
    price(project)
    add_tasks(project, 1)
    worker = make_worker()
    first, second = make_user(Role.REVIEWER, level=1), make_user(Role.REVIEWER, level=2)
    annotate(project, worker)
    review(project, first, "approve")

    overruling = review(project, second, "reject", reason="wrong_label")

    (lower,) = earnings_of(first)
    assert lower.status == "reversed"
    assert lower.reversal_review_id == overruling.pk
    assert "level 2" in lower.reversal_reason
    (upper,) = earnings_of(second)
    assert (upper.review_level, upper.amount_micros, upper.status) == (2, REVIEW2_RATE, "pending")
    assert earnings_of(worker)[0].status == "reversed"


def test_work_without_a_rate_card_accrues_nothing():
    project = make_project(gold_warmup=0)
    add_tasks(project, 1)
    worker = make_worker()

    annotate(project, worker)

    assert not Earning.objects.exists()
    assert Task.objects.get(project=project).status == "completed"


def test_repeating_an_accrual_changes_nothing():
    from payments.services.earnings import earning_accrue

    project = review_project()
    price(project)
    add_tasks(project, 1)
    worker = make_worker()
    annotation = annotate(project, worker)
    before = (pending(worker), LedgerTransaction.objects.count(), Earning.objects.count())

    again = earning_accrue(
        user_id=worker.pk,
        project_id=project.pk,
        task_id=annotation.task_id,
        annotation_id=annotation.pk,
        review_id=None,
        review_level=None,
        kind="annotate",
        active_seconds=annotation.active_seconds,
        submitted_at=annotation.submitted_at,
    )

    assert again is not None and again.annotation_id == annotation.pk
    assert (pending(worker), LedgerTransaction.objects.count(), Earning.objects.count()) == before


def test_the_expense_side_is_the_project_labour_expense():
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 2)
    worker = make_worker()

    annotate(project, worker)
    annotate(project, worker)

    from payments.models import LedgerEntry

    total = sum(
        LedgerEntry.objects.filter(
            account__kind=AccountKind.LABOUR_EXPENSE_PROJECT, account__project=project
        ).values_list("amount_micros", flat=True)
    )
    assert total == -2 * TASK_RATE


def test_a_scored_gold_answer_is_paid_like_any_task_although_gold_never_becomes_final():
    from labeling.services.gold import gold_answer_set

    project = make_project(gold_warmup=1)
    price(project)
    (gold_id,) = add_tasks(project, 1)
    gold_answer_set(task=Task.objects.get(pk=gold_id), result={"label": "cat"}, actor=None)
    add_tasks(project, 1)
    worker = make_worker()

    annotation = annotate(project, worker)

    assert annotation.task_id == gold_id
    (earning,) = earnings_of(worker)
    assert earning.status == "payable" and payable(worker) == TASK_RATE
