"""Evaluating quality rules: what each metric measures, when a rule fires, the sweep, dry runs,
discounted work and evaluations at once."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from core.models import AuditEvent
from labeling.models import (
    Annotation,
    AnnotationStatus,
    Lease,
    LeaseState,
    SlotKind,
    SlotState,
    Task,
    TaskStatus,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.consensus import consensus_work_discount
from labeling.services.submit import lease_skip, lease_submit
from quality.models import RuleAction
from quality.services.actions import appeal_decide, rule_action_appeal
from quality.services.evaluation import rule_dry_run, rules_evaluate, rules_sweep
from quality.services.rules import rule_deactivate
from tests.labeling.factories import add_tasks, make_project, make_worker
from tests.quality.factories import (
    GOLD_GOOD,
    GOLD_SPAM,
    audit_actions,
    gold_record,
    make_manager,
    managed,
    review_record,
    spam_rule,
    state_of,
    status_of,
)
from workforce.selectors import worker_eligibility

pytestmark = pytest.mark.django_db


def test_a_spammer_is_suspended_everywhere_with_the_evidence(manager, project):
    spammer = make_worker()
    rule = spam_rule(manager)
    items = gold_record(project, spammer, GOLD_SPAM)

    [action] = rules_evaluate(user=spammer, project=project)

    assert status_of(spammer) == "suspended"
    assert worker_eligibility(user=spammer, skill_id=None, min_level=1) is not None
    assert (action.rule, action.user, action.kind, action.state) == (
        rule,
        spammer,
        "suspend_everywhere",
        "active",
    )
    assert (action.metric_value, action.sample_size) == (0.0, 12)
    assert sorted(action.item_ids) == sorted(items)
    assert action.evidence["rule"]["id"] == rule.pk
    assert action.evidence["rule"]["threshold"] == 0.6
    assert action.evidence["items"] == "annotation"
    assert action.taken == [
        {"effect": "status", "project": None, "skill": None, "before": "active", "set": "suspended"}
    ]
    assert "rule_action.taken" in audit_actions()


def test_a_good_worker_is_not_hit(manager, project):
    worker = make_worker()
    spam_rule(manager)
    gold_record(project, worker, GOLD_GOOD)

    assert rules_evaluate(user=worker, project=project) == []
    assert status_of(worker) == "active"


def test_below_the_minimum_sample_nothing_fires(manager, project):
    newcomer = make_worker()
    spam_rule(manager)
    gold_record(project, newcomer, [0.0] * 9)

    assert rules_evaluate(user=newcomer, project=project) == []
    assert status_of(newcomer) == "active"


def test_the_window_keeps_only_the_newest_items(manager, project):
    worker = make_worker()
    spam_rule(manager, window_size=10)
    gold_record(project, worker, [1.0] * 30 + [0.0] * 10)

    [action] = rules_evaluate(user=worker, project=project)

    assert (action.metric_value, action.sample_size) == (0.0, 10)


def test_a_rule_does_not_fire_again_while_its_action_is_in_force(manager, project):
    spammer = make_worker()
    spam_rule(manager, action="notify")
    gold_record(project, spammer, GOLD_SPAM)

    first = rules_evaluate(user=spammer, project=project)
    second = rules_evaluate(user=spammer, project=project)

    assert (len(first), second) == (1, [])
    assert RuleAction.objects.filter(user=spammer).count() == 1


def test_a_project_rule_sees_only_its_project(manager, project):
    spammer = make_worker()
    elsewhere = make_project()
    spam_rule(manager, project=elsewhere, action="notify")
    gold_record(project, spammer, GOLD_SPAM)

    assert rules_evaluate(user=spammer, project=elsewhere) == []
    assert rules_evaluate(user=spammer, project=project) == []


def test_a_global_rule_sees_every_project(manager, project):
    spammer = make_worker()
    spam_rule(manager, action="notify")
    gold_record(project, spammer, [0.0] * 6)
    gold_record(make_project(), spammer, [0.0] * 6)

    [action] = rules_evaluate(user=spammer, project=None)

    assert action.sample_size == 12


def test_an_inactive_rule_does_not_fire(manager, project):
    spammer = make_worker()
    rule = spam_rule(manager, project=project)
    rule_deactivate(rule=rule, actor=manager)
    gold_record(project, spammer, GOLD_SPAM)

    assert rules_evaluate(user=spammer, project=project) == []


def test_review_pass_rate_counts_the_person_s_approved_work(manager, project):
    author = make_worker()
    spam_rule(manager, metric="review_pass_rate", min_sample=4, threshold=0.5, comparator="lte")
    review_record(project, author, ["approve", "reject", "correct", "reject"])

    [action] = rules_evaluate(user=author, project=project)

    assert (action.metric_value, action.sample_size) == (0.25, 4)
    assert action.evidence["items"] == "review"


def test_agreement_reads_the_agreement_of_final_work(manager, project):
    worker = make_worker()
    spam_rule(manager, metric="agreement", min_sample=2, threshold=0.5, action="notify")
    tasks = add_tasks(project, 3)
    for task_id, agreement in zip(tasks, [0.2, 0.4, None], strict=True):
        Annotation.objects.create(
            task_id=task_id,
            project=project,
            author=worker,
            result={"label": "cat"},
            agreement=agreement,
        )

    [action] = rules_evaluate(user=worker, project=project)

    assert (action.metric_value, action.sample_size) == (pytest.approx(0.3), 2)


def test_fast_answers_are_counted_against_the_rule_s_seconds(manager, project):
    bot = make_worker()
    spam_rule(
        manager,
        metric="fast_answer_rate",
        fast_answer_seconds=3,
        comparator="gte",
        threshold=0.8,
        action="notify",
    )
    add_tasks(project, 10)
    for _ in range(10):
        lease = slot_claim_next(project=project, user=bot).lease
        lease_submit(lease_id=lease.pk, user=bot, result={"label": "cat"})

    [action] = rules_evaluate(user=bot, project=project)

    assert (action.metric_value, action.sample_size) == (1.0, 10)


def test_a_skip_streak_counts_the_newest_skips(manager, project):
    skipper = make_worker()
    spam_rule(
        manager,
        metric="skip_streak",
        min_sample=1,
        comparator="gte",
        threshold=3,
        action="notify",
    )
    add_tasks(project, 4)
    lease = slot_claim_next(project=project, user=skipper).lease
    lease_submit(lease_id=lease.pk, user=skipper, result={"label": "cat"})
    for _ in range(3):
        lease = slot_claim_next(project=project, user=skipper).lease
        lease_skip(lease_id=lease.pk, user=skipper)

    [action] = rules_evaluate(user=skipper, project=project)

    assert (action.metric_value, action.sample_size) == (3.0, 4)
    assert set(action.item_ids) == set(
        Lease.objects.filter(user=skipper, state=LeaseState.SKIPPED).values_list("pk", flat=True)
    )


def test_submissions_in_24_hours_ignore_older_work(manager, project):
    bot = make_worker()
    spam_rule(
        manager,
        metric="submissions_24h",
        min_sample=1,
        comparator="gt",
        threshold=4,
        action="notify",
    )
    ids = gold_record(project, bot, [1.0] * 6)
    Annotation.objects.filter(pk__in=ids[:2]).update(
        submitted_at=timezone.now() - timedelta(hours=25)
    )

    assert rules_evaluate(user=bot, project=project) == []

    gold_record(project, bot, [1.0])
    [action] = rules_evaluate(user=bot, project=project)
    assert action.metric_value == 5.0


def test_the_sweep_suspends_the_spammer_and_spares_the_others(manager, project):
    spammer, worker, newcomer = make_worker(), make_worker(), make_worker()
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    gold_record(project, worker, GOLD_GOOD)
    gold_record(project, newcomer, [0.0] * 3)

    outcome = rules_sweep()

    assert [action.user for action in outcome.actions] == [spammer]
    assert outcome.people == 3
    assert [status_of(p) for p in (spammer, worker, newcomer)] == ["suspended", "active", "active"]
    action = outcome.actions[0]
    assert (action.metric_value, action.sample_size, len(action.item_ids)) == (0.0, 12, 12)


def test_the_sweep_leaves_out_people_without_recent_activity(manager, project):
    spammer = make_worker()
    spam_rule(manager, window_kind="days", window_size=30)
    gold_record(project, spammer, GOLD_SPAM, now=timezone.now() - timedelta(days=2))

    outcome = rules_sweep()

    assert (outcome.people, outcome.actions) == (0, [])


def test_after_a_reversal_only_new_evidence_counts(manager, project):
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager)
    now = timezone.now()
    gold_record(project, spammer, GOLD_SPAM, now=now - timedelta(minutes=30))
    [action] = rules_evaluate(user=spammer, project=project)
    appeal = rule_action_appeal(action=action, user=spammer, reason="My cat was sick.")
    appeal_decide(appeal=appeal, manager=manager, uphold=True)

    after_appeal = rules_sweep()
    gold_record(project, spammer, GOLD_SPAM, now=now + timedelta(minutes=30))
    relapse = rules_sweep(now=now + timedelta(minutes=31))

    assert after_appeal.actions == []
    assert [a.user for a in relapse.actions] == [spammer]
    assert status_of(spammer) == "suspended"


def test_a_dry_run_lists_whom_a_rule_would_hit_and_changes_nothing(manager, project):
    spammer, worker = make_worker(email="a-spam@example.test"), make_worker()
    rule = spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    gold_record(project, worker, GOLD_GOOD)
    audits = AuditEvent.objects.count()

    hits = rule_dry_run(rule=rule)

    assert [(hit.person, hit.value, hit.sample, hit.would_fire) for hit in hits] == [
        (spammer, 0.0, 12, True),
        (worker, pytest.approx(11 / 12), 12, False),
    ]
    assert RuleAction.objects.count() == 0
    assert AuditEvent.objects.count() == audits
    assert status_of(spammer) == "active"


def submit(project, person, label="cat"):
    lease = slot_claim_next(project=project, user=person).lease
    return lease_submit(lease_id=lease.pk, user=person, result={"label": label})


def test_a_suspended_spammer_s_consensus_work_is_discounted_and_redone(manager):
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3, queue_order="oldest")
    first, second, _ = add_tasks(project, 3)
    spammer, honest = make_worker(), make_worker()
    submit(project, honest)  # on the first task
    spammed = [submit(project, spammer, "bird"), submit(project, spammer, "bird")]
    held = slot_claim_next(project=project, user=spammer).lease  # the third task, not answered
    spam_rule(manager, project=project, action="suspend_project")
    gold_record(project, spammer, GOLD_SPAM)

    [action] = rules_evaluate(user=spammer, project=project)

    discounted = sorted(a.pk for a in spammed)
    assert sorted(action.evidence["discounted_annotation_ids"]) == discounted
    assert set(Annotation.objects.filter(pk__in=discounted).values_list("status", flat=True)) == {
        AnnotationStatus.DISCOUNTED
    }
    for task in Task.objects.filter(pk__in=[first, second]):
        counted = Annotation.objects.filter(
            task=task, status__in=[AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED]
        ).count()
        assert task.annotations_count == counted
        assert task.status == TaskStatus.OPEN
        assert WorkSlot.objects.filter(task=task, kind=SlotKind.ANNOTATE).count() == 4
    assert Lease.objects.get(pk=held.pk).state == LeaseState.RELEASED
    assert action.evidence["released_lease_ids"] == [held.pk]


def test_discounted_work_is_redone_by_others_and_left_out_of_the_vote(manager):
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2)
    [task_id] = add_tasks(project, 1)
    spammer = make_worker()
    submit(project, spammer, "bird")
    spam_rule(manager, project=project, action="suspend_project")
    gold_record(project, spammer, GOLD_SPAM)
    rules_evaluate(user=spammer, project=project)

    submit(project, make_worker(), "dog")
    submit(project, make_worker(), "dog")

    task = Task.objects.get(pk=task_id)
    assert (task.status, task.annotations_count, task.result) == ("completed", 2, {"label": "dog"})


def test_only_open_consensus_tasks_lose_work(manager):
    standard = make_project()
    add_tasks(standard, 1)
    spammer = make_worker()
    submit(standard, spammer)

    assert consensus_work_discount(user=spammer) == []
    assert WorkSlot.objects.filter(project=standard, state=SlotState.OPEN).count() == 0


def test_a_skip_streak_suspension_does_not_discount_work(manager):
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2)
    add_tasks(project, 4)
    skipper = make_worker()
    submit(project, skipper)
    for _ in range(3):
        lease = slot_claim_next(project=project, user=skipper).lease
        lease_skip(lease_id=lease.pk, user=skipper)
    spam_rule(
        manager,
        project=project,
        metric="skip_streak",
        min_sample=1,
        comparator="gte",
        threshold=3,
        action="suspend_project",
    )

    [action] = rules_evaluate(user=skipper, project=project)

    assert "discounted_annotation_ids" not in action.evidence
    assert not Annotation.objects.filter(status=AnnotationStatus.DISCOUNTED).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres  # row locking is exercised on PostgreSQL
def test_evaluations_at_once_take_each_action_once():
    manager, project, spammer = make_manager(), make_project(), make_worker()
    spam_rule(manager)
    spam_rule(manager, project=project, action="suspend_project")
    gold_record(project, spammer, GOLD_SPAM)
    errors, taken = [], []
    start = threading.Barrier(8)

    def evaluate():
        try:
            start.wait()
            taken.extend(rules_evaluate(user=spammer, project=project))
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(taken) == 2
    assert RuleAction.objects.filter(user=spammer).count() == 2
    assert status_of(spammer) == "suspended"
    assert state_of(spammer, project).is_suspended
