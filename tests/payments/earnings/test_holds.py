"""Holds: earnings of a suspended person, of a person with an open appeal, or of a disputed task
are held instead of becoming payable; finance releases or forfeits them with a reason, audited,
with MFA."""

import pytest

from accounts.models import Role
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.models import AuditEvent
from payments.models import Hold
from payments.selectors.ledger import ledger_reconciliation
from payments.services.holds import (
    hold_forfeit,
    hold_release,
    task_dispute_close,
    task_dispute_open,
)
from quality.services.actions import rule_action_appeal
from quality.services.evaluation import rules_evaluate
from tests.factories import make_user
from tests.labeling.factories import add_tasks, annotate, make_worker, review, review_project
from tests.payments.earnings.helpers import TASK_RATE, earnings_of, payable, pending, price
from tests.quality.factories import GOLD_SPAM, gold_record, make_manager, spam_rule
from workforce.models import AnnotatorProfile, AnnotatorStatus
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced():
    project = review_project()
    price(project)
    add_tasks(project, 2)
    return project


def _suspend(user) -> None:
    profile = AnnotatorProfile.objects.get(user=user)
    annotator_status_set(profile=profile, status=AnnotatorStatus.SUSPENDED, actor=None)


def test_work_of_a_suspended_person_is_held_when_it_becomes_final(priced):
    worker = make_worker()
    annotate(priced, worker)
    _suspend(worker)

    review(priced, make_user(Role.REVIEWER, level=1), "approve")

    (earning,) = earnings_of(worker)
    assert earning.status == "held"
    assert earning.holds.get().cause == "suspended" and earning.holds.get().is_open
    assert payable(worker) == 0 and pending(worker) == TASK_RATE


def test_finance_releases_a_hold_with_a_reason_and_it_becomes_payable(priced):
    worker, finance = make_worker(), make_user(Role.FINANCE, mfa=True)
    annotate(priced, worker)
    _suspend(worker)
    review(priced, make_user(Role.REVIEWER, level=1), "approve")
    hold = Hold.objects.get()

    released = hold_release(hold=hold, actor=finance, reason="Suspension was a mistake")

    assert released.resolution == "released" and released.resolved_by == finance
    assert earnings_of(worker)[0].status == "payable"
    assert payable(worker) == TASK_RATE and pending(worker) == 0
    event = AuditEvent.objects.get(action="earnings.hold_released")
    assert event.after["reason"] == "Suspension was a mistake"
    with pytest.raises(Conflict):
        hold_forfeit(hold=hold, actor=finance, reason="Twice")
    assert ledger_reconciliation().is_clean


def test_finance_forfeits_a_hold_and_the_earning_is_reversed_with_the_reason(priced):
    worker, finance = make_worker(), make_user(Role.FINANCE, mfa=True)
    annotate(priced, worker)
    _suspend(worker)
    review(priced, make_user(Role.REVIEWER, level=1), "approve")

    hold_forfeit(hold=Hold.objects.get(), actor=finance, reason="Fraud confirmed")

    (earning,) = earnings_of(worker)
    assert earning.status == "reversed"
    assert earning.reversal_reason == "Forfeited: Fraud confirmed"
    assert payable(worker) == 0 and pending(worker) == 0
    assert AuditEvent.objects.filter(action="earnings.hold_forfeited").exists()
    assert ledger_reconciliation().is_clean


def test_only_finance_with_mfa_resolves_holds_and_always_with_a_reason(priced):
    worker = make_worker()
    annotate(priced, worker)
    _suspend(worker)
    review(priced, make_user(Role.REVIEWER, level=1), "approve")
    hold = Hold.objects.get()

    with pytest.raises(PermissionDenied):
        hold_release(hold=hold, actor=make_user(Role.MANAGER, mfa=True), reason="Mine")
    with pytest.raises(PermissionDenied) as no_mfa:
        hold_release(hold=hold, actor=make_user(Role.FINANCE), reason="No second factor")
    with pytest.raises(ValidationFailed) as no_reason:
        hold_release(hold=hold, actor=make_user(Role.FINANCE, mfa=True), reason=" ")

    assert no_mfa.value.code == "mfa_required"
    assert "reason" in no_reason.value.extra["fields"]
    assert Hold.objects.get().is_open


def test_work_of_a_person_with_an_open_appeal_is_held(priced):
    manager, worker = make_manager(), make_worker()
    spam_rule(manager, project=priced, action="notify")
    gold_record(priced, worker, GOLD_SPAM)
    [action] = rules_evaluate(user=worker, project=priced)
    rule_action_appeal(action=action, user=worker, reason="I was ill that day.")
    annotate(priced, worker)

    review(priced, make_user(Role.REVIEWER, level=1), "approve")

    held = [e for e in earnings_of(worker) if e.status == "held"]
    assert len(held) == 1 and held[0].holds.get().cause == "appeal"


def test_work_on_a_disputed_task_is_held_until_finance_decides(priced):
    worker, finance = make_worker(), make_user(Role.FINANCE, mfa=True)
    annotation = annotate(priced, worker)
    dispute = task_dispute_open(
        project=priced, task_id=annotation.task_id, reason="Customer disputes it", actor=finance
    )
    with pytest.raises(Conflict):
        task_dispute_open(project=priced, task_id=annotation.task_id, reason="Again", actor=finance)

    review(priced, make_user(Role.REVIEWER, level=1), "approve")
    task_dispute_close(dispute=dispute, actor=finance)

    (earning,) = earnings_of(worker)
    assert earning.status == "held" and earning.holds.get().cause == "dispute"
    assert "Customer disputes it" in earning.holds.get().detail


def test_a_dispute_names_a_task_of_the_project(priced):
    with pytest.raises(ValidationFailed) as caught:
        task_dispute_open(project=priced, task_id=10**9, reason="Nope", actor=None)

    assert "task_id" in caught.value.extra["fields"]
