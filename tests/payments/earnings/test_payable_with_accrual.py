"""Work that makes its task final is made payable with its own accrual (PostgreSQL: one read and
one posting statement) and ends exactly as the accrual followed by the task's finalising does;
a repeat posts nothing, and what must wait (a hold, the task's other pending pay) still waits
for the task's `work_final`."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling.events import work_final_send, work_submitted_send
from payments.models import Earning, EarningRemainder, HoldCause, LedgerTransaction
from payments.selectors.earnings import pricing_to_finalise
from payments.selectors.ledger import ledger_reconciliation
from payments.services.earnings import settled_submissions
from tests.labeling.factories import make_project, make_worker
from tests.payments.earnings.helpers import payable, pending, price
from workforce.models import AnnotatorProfile, AnnotatorStatus
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db

_ids = itertools.count(900_001)


def _submit(project, person, *, task_id, at, completes_task, annotation_id=None):
    """One annotation handed in at `at`, as labeling announces it; when it makes the task final,
    the task's work_final follows with the same moment (as the submit statement sends them)."""
    work_submitted_send(
        user_id=person.pk,
        project_id=project.pk,
        task_id=task_id,
        annotation_id=annotation_id or next(_ids),
        kind="annotate",
        active_seconds=20,
        submitted_at=at,
        completes_task=completes_task,
    )
    if completes_task:
        work_final_send(project_id=project.pk, task_id=task_id, completed_at=at)


def _final_at_once(project, person, at, *, announced: bool) -> None:
    """A new task's only annotation, final at once; `announced`: labeling says so with the
    submission (else only its work_final says it, and pay takes two steps)."""
    task_id = next(_ids)
    _submit(project, person, task_id=task_id, at=at, completes_task=announced)
    if not announced:
        work_final_send(project_id=project.pk, task_id=task_id, completed_at=at)


def _priced_project(*, unit: str = "per_task"):
    """A project paying five cents an annotation: every move to payable moves whole cents."""
    project = make_project(gold_warmup=0)
    price(project, annotation=50_000, unit=unit)
    return project


def _ledger_of(person) -> list[tuple]:
    """The person's earnings as the ledger records them, without ids: amounts, status, times and
    each transaction's key (the earning's id taken out), memo and entries by account kind."""

    def posting(tx, earning):
        if tx is None:
            return None
        entries = sorted(
            (e.account.kind, e.amount_micros) for e in tx.entries.select_related("account")
        )
        names = {str(earning.annotation_id): "<work>", str(earning.pk): "<earning>"}
        key = ":".join(names.get(part, part) for part in tx.source_key.split(":"))
        memo = tx.memo.replace(f"task {earning.task_id} ", "task <task> ")
        return key, memo.replace(earning.project.name, "<project>"), entries, tx.posted_at

    rows = []
    for earning in Earning.objects.filter(user=person).order_by("created_at", "pk"):
        rows.append(
            (
                earning.status,
                earning.amount_micros,
                earning.created_at,
                earning.finalised_at,
                posting(earning.accrued_by, earning),
                posting(earning.finalised_by, earning),
            )
        )
    return rows


def test_work_final_at_once_is_paid_as_the_accrual_and_the_tasks_finalising_would():
    # Two people on two projects priced the same (a sub-cent rate, so most moves are none and
    # the remainder carries), the same moments: one's submissions say they complete the task.
    start = timezone.now() - timedelta(minutes=1)
    together, apart = make_project(gold_warmup=0), make_project(gold_warmup=0)
    price(together, annotation=3_500), price(apart, annotation=3_500)
    fused, two_step = make_worker(), make_worker()

    for n in range(9):
        at = start + timedelta(seconds=n)
        _final_at_once(together, fused, at, announced=True)
        _final_at_once(apart, two_step, at, announced=False)

    assert _ledger_of(fused) == _ledger_of(two_step)
    assert [e.status for e in Earning.objects.filter(user=fused)] == ["payable"] * 9
    both = (payable(fused), pending(fused)), (payable(two_step), pending(two_step))
    assert both == ((30_000, 1_500), (30_000, 1_500))
    remainders = [EarningRemainder.objects.get(user=p).micros for p in (fused, two_step)]
    assert remainders == [1_500, 1_500]
    assert ledger_reconciliation().is_clean


def test_a_repeat_of_work_made_payable_with_its_accrual_posts_nothing():
    project = _priced_project()
    person = make_worker()
    at = timezone.now() - timedelta(minutes=1)
    _submit(project, person, task_id=next(_ids), at=at, completes_task=True)  # opens the accounts
    task_id, annotation_id = next(_ids), next(_ids)
    later = at + timedelta(seconds=1)
    _submit(
        project,
        person,
        task_id=task_id,
        annotation_id=annotation_id,
        at=later,
        completes_task=True,
    )
    before = (LedgerTransaction.objects.count(), payable(person), pending(person))

    _submit(
        project,
        person,
        task_id=task_id,
        annotation_id=annotation_id,
        at=later,
        completes_task=True,
    )

    assert (LedgerTransaction.objects.count(), payable(person), pending(person)) == before
    assert before[1:] == (100_000, 0)
    assert ledger_reconciliation().is_clean


def test_the_tasks_other_pending_pay_becomes_payable_with_the_work_that_completes_it():
    project = _priced_project()
    first, second = make_worker(), make_worker()
    at = timezone.now() - timedelta(minutes=1)
    for person in (first, second):  # each person's accounts opened
        _submit(project, person, task_id=next(_ids), at=at, completes_task=True)
    task_id = next(_ids)

    _submit(project, first, task_id=task_id, at=at, completes_task=False)
    _submit(project, second, task_id=task_id, at=at + timedelta(seconds=1), completes_task=True)

    statuses = {e.user_id: e.status for e in Earning.objects.filter(task_id=task_id)}
    assert statuses == {first.pk: "payable", second.pk: "payable"}
    assert (payable(first), payable(second)) == (100_000, 100_000)
    assert ledger_reconciliation().is_clean


def test_a_hint_left_by_an_undone_attempt_never_skips_the_tasks_finalising():
    # A submission's attempt made its work payable and was undone (a deadlock, say), leaving its
    # hint; the attempt that runs again with the same moment finds the person suspended: the
    # work must be held by the task's work_final, not skipped as already settled.
    project = _priced_project()
    person = make_worker()
    at = timezone.now() - timedelta(minutes=1)
    _submit(project, person, task_id=next(_ids), at=at, completes_task=True)
    annotator_status_set(
        profile=AnnotatorProfile.objects.get(user=person),
        status=AnnotatorStatus.SUSPENDED,
        actor=None,
    )
    task_id, later = next(_ids), at + timedelta(seconds=1)
    settled_submissions.remember(task_id=task_id, at=later)

    _submit(project, person, task_id=task_id, at=later, completes_task=True)

    earning = Earning.objects.get(task_id=task_id)
    assert earning.status == "held"
    assert earning.holds.get().cause == HoldCause.SUSPENDED


@pytest.mark.postgres
def test_work_final_at_once_costs_one_read_and_one_posting():
    project = _priced_project()
    person = make_worker()
    at = timezone.now() - timedelta(minutes=1)
    _submit(project, person, task_id=next(_ids), at=at, completes_task=True)  # accounts opened
    _submit(project, person, task_id=next(_ids), at=at, completes_task=True)  # statements ready
    with CaptureQueriesContext(connection) as captured:
        _submit(project, person, task_id=next(_ids), at=at, completes_task=True)

    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == 2, statements


@pytest.mark.postgres
@pytest.mark.parametrize("unit", ["per_task", "per_hour"])
def test_the_pricing_read_locks_the_persons_pay_only_when_the_work_is_priced_per_task(unit):
    # An active-hour accrual locks the day's earning row, which comes before pay
    # (payments/lock_objects.py): its pricing read must not have locked the person's pay first.
    project = _priced_project(unit=unit)
    person = make_worker()
    at = timezone.now() - timedelta(minutes=1)
    _submit(project, person, task_id=next(_ids), at=at, completes_task=True)  # accounts opened
    if unit == "per_hour":  # an hourly accrual opens only pending; a move opens payable too
        _final_at_once(_priced_project(), person, at, announced=False)

    with transaction.atomic():
        context = pricing_to_finalise(
            project_id=project.pk, user_id=person.pk, work_kind="annotation", at=at, task_id=1
        )

    assert context is not None and context.finalising is not None
    assert (context.finalising.pay is not None) == (unit == "per_task")
