"""The default spam rule's effect (issue 16, item 5): when it fires on a person, their labels on
open consensus tasks stop counting and each of those tasks is re-queued for a new label, once."""

import pytest

from labeling.errors import NoWorkAvailable
from labeling.models import (
    Annotation,
    AnnotationStatus,
    SlotKind,
    SlotState,
    Task,
    TaskStatus,
    WorkerConfusion,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from quality.models import QualityRule, RuleAction
from quality.services.evaluation import rules_evaluate, rules_sweep
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = [pytest.mark.django_db, pytest.mark.default_rules]

CLASSES = ["a", "b", "c", "d"]
SPAMMER = [[0.25] * 4] * 4  # the same row whatever the truth


def open_annotate_slots(task_ids):
    return {
        task_id: WorkSlot.objects.filter(
            task_id=task_id, kind=SlotKind.ANNOTATE, state=SlotState.OPEN
        ).count()
        for task_id in task_ids
    }


@pytest.fixture
def spammed():
    """A consensus project (with the default rules) where a spammer gave the first of three
    labels to 25 tasks, and the estimates know them for a spammer."""
    project = make_project(
        pipeline="consensus", overlap=3, max_overlap=3, labels=CLASSES, gold_warmup=0
    )
    task_ids = add_tasks(project, 25)
    spammer = make_worker()
    for _ in task_ids:
        lease = slot_claim_next(project=project, user=spammer).lease
        lease_submit(lease_id=lease.pk, user=spammer, result={"label": "a"})
    WorkerConfusion.objects.create(
        user=spammer, project=project, classes=CLASSES, matrix=SPAMMER, accuracy=0.25
    )
    return project, task_ids, spammer


def test_the_default_spam_rule_discounts_the_labels_and_requeues_each_task_once(spammed):
    project, task_ids, spammer = spammed
    assert set(open_annotate_slots(task_ids).values()) == {2}

    [action] = rules_evaluate(user=spammer, project=project)

    rule = QualityRule.objects.get(pk=action.rule_id)
    assert rule.name == "Spammer score above 0.65 (model)"  # a default rule, not one we made
    discounted = set(action.evidence["discounted_annotation_ids"])
    assert discounted == set(Annotation.objects.filter(author=spammer).values_list("pk", flat=True))
    assert set(Annotation.objects.filter(pk__in=discounted).values_list("status", flat=True)) == {
        AnnotationStatus.DISCOUNTED
    }
    # Each task is back to three labels wanted: its two open slots and one for the lost label.
    assert set(open_annotate_slots(task_ids).values()) == {3}
    assert set(
        Task.objects.filter(pk__in=task_ids).values_list("annotations_count", flat=True)
    ) == {0}


def test_a_second_evaluation_neither_acts_again_nor_requeues_again(spammed):
    project, task_ids, spammer = spammed
    rules_evaluate(user=spammer, project=project)

    again = rules_evaluate(user=spammer, project=project)
    rules_sweep()

    assert again == []
    assert RuleAction.objects.filter(user=spammer).count() == 1
    assert set(open_annotate_slots(task_ids).values()) == {3}


def test_the_requeued_tasks_are_labelled_by_others_without_the_spammer_s_vote(spammed):
    project, task_ids, spammer = spammed
    rules_evaluate(user=spammer, project=project)
    fresh = set(add_tasks(project, 5)) - set(task_ids)
    first = slot_claim_next(project=project, user=make_worker()).lease

    for person in [make_worker() for _ in range(3)]:
        while True:
            try:
                lease = slot_claim_next(project=project, user=person).lease
            except NoWorkAvailable:
                break
            lease_submit(lease_id=lease.pk, user=person, result={"label": "b"})

    # A re-queued task's new slot comes before tasks nobody has started (it is under way).
    assert first.task_id in task_ids and first.task_id not in fresh
    # Everyone but the first claimant labelled each task; the spammer's "a" does not count.
    tasks = Task.objects.filter(pk__in=task_ids).exclude(pk=first.task_id)
    assert {(t.status, t.annotations_count, t.result["label"]) for t in tasks} == {
        (TaskStatus.COMPLETED, 3, "b")
    }
