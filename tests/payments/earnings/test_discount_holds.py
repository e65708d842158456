"""Work discarded by a quality rule (labeling's `work_reversed`, reason "discounted") is held for
finance with the rule action as its evidence, pending or payable; finance forfeits it (reversed
once, with the reason) or releases it (payable); nothing else moves it, and a repeat of the event
changes nothing. The ledger balances and the remainder stay exact throughout."""

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Role
from core.models import AuditEvent
from labeling.events import REVERSED_DISCOUNTED, work_reversed_send
from labeling.models import Task
from payments.models import Earning, EarningRemainder, Hold, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from payments.services.earnings import earning_reverse
from payments.services.holds import hold_forfeit, hold_release
from quality.services.evaluation import rules_evaluate
from tests.factories import make_user
from tests.labeling.factories import (
    add_tasks,
    annotate,
    make_project,
    make_worker,
    review,
    review_project,
)
from tests.payments.earnings.helpers import (
    TASK_RATE,
    earnings_of,
    expected_payable,
    payable,
    pending,
    price,
    priced_consensus,
    spammer_discounted,
)
from tests.quality.factories import GOLD_SPAM, gold_record, make_manager, spam_rule
from workforce.models import AnnotatorProfile, AnnotatorStatus
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db


def expected_pending(user, currency: str = "USD") -> int:
    """The plain recomputation: the person's pending and held earnings plus their remainder."""
    waiting = Earning.objects.filter(
        user=user, currency=currency, status__in=["pending", "held"]
    ).aggregate(total=Sum("amount_micros"))["total"]
    remainder = EarningRemainder.objects.filter(user=user, currency=currency).first()
    return (waiting or 0) + (remainder.micros if remainder else 0)


def assert_ledger_exact(*people) -> None:
    assert ledger_reconciliation().is_clean
    for person in people:
        assert payable(person) == expected_payable(person)
        assert pending(person) == expected_pending(person)


def discount(annotations, action=None) -> None:
    """Announce the annotations' work discounted, as labeling does (with the rule action)."""
    work_reversed_send(
        user_id=annotations[0].author_id,
        project_id=annotations[0].project_id,
        annotation_ids=[a.pk for a in annotations],
        task_ids=[a.task_id for a in annotations],
        reason=REVERSED_DISCOUNTED,
        rule_action_id=action.pk if action else None,
    )


def caught(project, person):
    """A rule that only notifies catches `person` on `project`; return its action (evidence)."""
    spam_rule(make_manager(), project=project, action="notify")
    gold_record(project, person, GOLD_SPAM)
    [action] = rules_evaluate(user=person, project=project)
    return action


@pytest.fixture
def consensus():
    return priced_consensus()


@pytest.fixture
def spammed(consensus):
    """A spammer answered both tasks of the consensus project; a rule suspends them from it."""
    return spammer_discounted(consensus)


def test_a_rule_s_discounted_work_is_held_with_the_rule_action_as_evidence(spammed):
    spammer, work, action = spammed

    earnings = earnings_of(spammer)

    assert sorted(action.evidence["discounted_annotation_ids"]) == [a.pk for a in work]
    assert [e.status for e in earnings] == ["held", "held"]
    holds = list(Hold.objects.filter(earning__user=spammer).order_by("pk"))
    assert [(h.cause, h.rule_action_id, h.is_open) for h in holds] == [
        ("discounted", action.pk, True)
    ] * 2
    assert action.rule.name in holds[0].detail and f"action {action.pk}" in holds[0].detail
    assert "Gold accuracy < 0.6" in holds[0].detail
    assert pending(spammer) == 2 * TASK_RATE and payable(spammer) == 0
    assert AuditEvent.objects.filter(action="earnings.hold").count() == 2
    assert_ledger_exact(spammer)


def test_finance_forfeits_discounted_pay_and_it_is_reversed_once_with_the_reason(spammed, finance):
    spammer, work, _ = spammed

    for hold in Hold.objects.filter(earning__user=spammer):
        hold_forfeit(hold=hold, actor=finance, reason="Spam confirmed")
    discount(work)

    earnings = earnings_of(spammer)
    assert [e.status for e in earnings] == ["reversed", "reversed"]
    assert {e.reversal_reason for e in earnings} == {"Forfeited: Spam confirmed"}
    reversals = LedgerTransaction.objects.filter(reverses__in=[e.accrued_by for e in earnings])
    assert reversals.count() == 2
    assert pending(spammer) == 0 and payable(spammer) == 0
    assert_ledger_exact(spammer)


def test_finance_releases_discounted_pay_and_it_becomes_payable(spammed, finance):
    spammer, work, _ = spammed
    first, second = Hold.objects.filter(earning__user=spammer).order_by("pk")

    hold_release(hold=first, actor=finance, reason="Upheld on appeal")
    discount(work)

    assert [e.status for e in earnings_of(spammer)] == ["payable", "held"]
    assert payable(spammer) == TASK_RATE and pending(spammer) == TASK_RATE
    assert_ledger_exact(spammer)
    hold_forfeit(hold=second, actor=finance, reason="Spam")
    assert payable(spammer) == TASK_RATE and pending(spammer) == 0
    assert_ledger_exact(spammer)


def test_the_task_becoming_final_leaves_held_discounted_pay_to_finance(consensus, spammed):
    spammer, work, _ = spammed
    others = [make_worker(), make_worker()]

    for person in others:
        annotate(consensus, person, "dog")
        annotate(consensus, person, "dog")

    assert set(
        Task.objects.filter(pk__in=[a.task_id for a in work]).values_list("status", flat=True)
    ) == {"completed"}
    assert [e.status for e in earnings_of(spammer)] == ["held", "held"]
    assert all(e.status == "payable" for p in others for e in earnings_of(p))
    assert payable(spammer) == 0 and pending(spammer) == 2 * TASK_RATE
    assert_ledger_exact(spammer, *others)


def test_repeating_the_event_changes_nothing(spammed):
    spammer, work, action = spammed
    postings = LedgerTransaction.objects.count()

    discount(work, action)
    discount(work)

    assert Hold.objects.filter(earning__user=spammer).count() == 2
    assert [e.status for e in earnings_of(spammer)] == ["held", "held"]
    assert LedgerTransaction.objects.count() == postings
    assert AuditEvent.objects.filter(action="earnings.hold").count() == 2


# --- Pay that was payable when its work was discounted --------------------------------------------


@pytest.fixture
def paid_at_once():
    """A project without review: work is final, and its pay payable, when it is handed in."""
    project = make_project(gold_warmup=0)
    price(project)
    add_tasks(project, 3)
    return project


def test_payable_pay_of_discounted_work_leaves_payable_and_is_held(paid_at_once):
    worker = make_worker()
    work = [annotate(paid_at_once, worker)]
    action = caught(paid_at_once, worker)
    assert payable(worker) == TASK_RATE

    discount(work, action)

    (earning,) = earnings_of(worker)
    assert earning.status == "held"
    assert earning.holds.get().rule_action_id == action.pk
    assert payable(worker) == 0 and pending(worker) == TASK_RATE
    withheld = LedgerTransaction.objects.get(
        source_key__startswith=f"earning:withheld:{earning.pk}:"
    )
    assert sum(e.amount_micros for e in withheld.entries.all()) == 0
    assert_ledger_exact(worker)


def test_payable_then_discounted_pay_forfeited_is_reversed_once(paid_at_once, finance):
    worker = make_worker()
    work = [annotate(paid_at_once, worker)]
    discount(work, caught(paid_at_once, worker))

    hold_forfeit(hold=Hold.objects.get(), actor=finance, reason="Spam")
    discount(work)

    (earning,) = earnings_of(worker)
    assert earning.status == "reversed" and earning.reversal_reason == "Forfeited: Spam"
    assert payable(worker) == 0 and pending(worker) == 0
    assert_ledger_exact(worker)


def test_payable_then_discounted_pay_released_is_payable_again_and_a_later_reversal_is_exact(
    paid_at_once, finance
):
    worker = make_worker()
    work = [annotate(paid_at_once, worker)]
    discount(work, caught(paid_at_once, worker))

    hold_release(hold=Hold.objects.get(), actor=finance, reason="Honest after all")
    discount(work)

    (earning,) = earnings_of(worker)
    assert earning.status == "payable" and payable(worker) == TASK_RATE
    assert_ledger_exact(worker)
    earning_reverse(earning=earning, reason="Rejected later", actor=None)
    assert payable(worker) == 0 and pending(worker) == 0
    assert_ledger_exact(worker)


def test_sub_cent_pay_held_after_it_was_payable_keeps_the_remainder_exact(finance):
    project = make_project(gold_warmup=0)
    price(project, annotation=3_500)  # 0.35 cents a task: whole cents only reach payable
    add_tasks(project, 3)
    worker = make_worker()
    work = [annotate(project, worker) for _ in range(3)]
    assert payable(worker) == 10_000  # 1.05 cents finalised: one cent payable

    discount(work[:1], caught(project, worker))

    # 0.70 cents finalised (no whole cent payable) and 0.35 held: all of it pending
    assert payable(worker) == 0 and pending(worker) == 10_500
    assert_ledger_exact(worker)
    hold_release(hold=Hold.objects.get(), actor=finance, reason="Fine")
    assert payable(worker) == 10_000
    assert_ledger_exact(worker)
    for earning in earnings_of(worker):
        earning_reverse(earning=earning, reason="All of it", actor=None, at=timezone.now())
    assert payable(worker) == 0 and pending(worker) == 0
    assert_ledger_exact(worker)


def test_pay_already_held_for_a_suspension_is_held_for_the_discount_with_the_evidence():
    project = review_project()
    price(project)
    add_tasks(project, 1)
    worker = make_worker()
    work = [annotate(project, worker)]
    profile = AnnotatorProfile.objects.get(user=worker)
    annotator_status_set(profile=profile, status=AnnotatorStatus.SUSPENDED, actor=None)
    review(project, make_user(Role.REVIEWER, level=1), "approve")
    action = caught(project, worker)

    discount(work, action)

    hold = Hold.objects.get()
    assert (hold.cause, hold.rule_action_id, hold.is_open) == ("discounted", action.pk, True)
    assert AuditEvent.objects.get(action="earnings.hold", after__cause="discounted").before == {
        "cause": "suspended",
        "detail": "The person was suspended when the work became final.",
    }
    assert pending(worker) == TASK_RATE and payable(worker) == 0
