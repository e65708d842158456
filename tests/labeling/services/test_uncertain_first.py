"""Uncertain-first queue order: among the started tasks that asked for one more annotator, the
least certain is offered first, with a fairness cap on how long a more certain one waits."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ValidationFailed
from labeling.models import SlotKind, SlotState, Task, TaskStatus, WorkerConfusion, WorkSlot
from labeling.queue_order import UNCERTAIN_WAIT_CAP
from labeling.services.claim import slot_claim_next
from labeling.services.projects import project_update
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db

CLASSES = ["cat", "dog", "bird"]


def uncertain_project(**settings):
    settings = {
        "pipeline": "consensus",
        "overlap": 2,
        "max_overlap": 4,
        # Two reliable people who agree (0.994) still ask for a third: a "certain" open task.
        "confidence_threshold": 0.999,
        "aggregation_method": "dawid_skene",
        "queue_order": "uncertain_first",
        "gold_warmup": 0,
        "labels": CLASSES,
        **settings,
    }
    return make_project(**settings)


def reliable(project, *people):
    matrix = [[0.9 if i == j else 0.05 for j in range(3)] for i in range(3)]
    for person in people:
        WorkerConfusion.objects.create(
            user=person, project=project, classes=CLASSES, matrix=matrix, accuracy=0.9
        )


def label(project, person, value, now):
    lease = slot_claim_next(project=project, user=person, now=now).lease
    lease_submit(lease_id=lease.pk, user=person, result={"label": value}, now=now)
    return lease.task_id


def claimed_task(project, person, now):
    return slot_claim_next(project=project, user=person, now=now).lease.task_id


def first_handed_out(*task_ids):
    """Make the queue start the given new tasks in this order (their slots' keys)."""
    for key, task_id in enumerate(task_ids, start=1):
        WorkSlot.objects.filter(task_id=task_id).update(order_key=10**6 * key)


def started(project, a, b, task_id, votes, now):
    """`a` and `b` label the next new task (which must be `task_id`) with `votes`."""
    assert label(project, a, votes[0], now) == task_id
    assert label(project, b, votes[1], now) == task_id
    assert Task.objects.get(pk=task_id).status == TaskStatus.OPEN  # it asked for one more


def test_the_least_certain_started_task_is_offered_first():
    project = uncertain_project()
    low_id, high_id, new_id = add_tasks(project, 3)
    a, b, c, d = (make_worker() for _ in range(4))
    reliable(project, a, b, c, d)
    now = timezone.now()
    # The disagreement gets the higher id: by id (depth-first) it would come second.
    first_handed_out(low_id, high_id, new_id)
    started(project, a, b, low_id, ("cat", "cat"), now)
    started(project, a, b, high_id, ("cat", "dog"), now)

    first, second, third = (claimed_task(project, p, now) for p in (c, d, make_worker()))

    assert first == high_id  # the disagreement (about 0.5) before the agreement (0.994)
    assert second == low_id
    assert third == new_id  # started tasks before new ones


def test_a_more_certain_task_is_not_overtaken_by_work_newer_than_the_cap():
    project = uncertain_project()
    certain_id, unsure_id = add_tasks(project, 2)
    a, b, c = (make_worker() for _ in range(3))
    reliable(project, a, b, c)
    then = timezone.now()
    later = then + UNCERTAIN_WAIT_CAP + timedelta(seconds=1)
    first_handed_out(certain_id, unsure_id)
    started(project, a, b, certain_id, ("cat", "cat"), then)
    started(project, a, b, unsure_id, ("cat", "dog"), later)

    assert claimed_task(project, c, later) == certain_id  # it has waited long enough


def test_within_the_cap_the_less_certain_task_still_comes_first():
    project = uncertain_project()
    certain_id, unsure_id = add_tasks(project, 2)
    a, b, c = (make_worker() for _ in range(3))
    reliable(project, a, b, c)
    then = timezone.now()
    later = then + UNCERTAIN_WAIT_CAP / 2
    first_handed_out(certain_id, unsure_id)
    started(project, a, b, certain_id, ("cat", "cat"), then)
    started(project, a, b, unsure_id, ("cat", "dog"), later)

    assert claimed_task(project, c, later) == unsure_id


def test_an_unsure_task_takes_no_more_labels_than_the_max_overlap():
    project = uncertain_project(max_overlap=3)
    [task_id] = add_tasks(project, 1)
    people = [make_worker() for _ in range(4)]
    reliable(project, *people)
    now = timezone.now()

    for person, value in zip(people, ["cat", "dog", "bird"], strict=False):
        label(project, person, value, now)

    task = Task.objects.get(pk=task_id)
    assert task.annotations_count == 3
    assert task.status == TaskStatus.IN_REVIEW
    assert not WorkSlot.objects.filter(
        task_id=task_id, kind=SlotKind.ANNOTATE, state=SlotState.OPEN
    ).exists()


def test_other_orders_keep_their_keys_for_the_extra_slot():
    project = uncertain_project(queue_order="depth_first")
    [task_id] = add_tasks(project, 1)
    a, b = make_worker(), make_worker()
    reliable(project, a, b)
    now = timezone.now()

    label(project, a, "cat", now)
    label(project, b, "dog", now)

    extra = WorkSlot.objects.get(task_id=task_id, state=SlotState.OPEN)
    assert extra.order_key == task_id - 2**62


@pytest.mark.parametrize(
    "changes",
    [
        {"confidence_threshold": None},
        {"max_overlap": 2},
        {"pipeline": "standard", "overlap": 1, "max_overlap": 1, "confidence_threshold": None},
        {
            "task_type": "multi_label",
            "aggregation_method": "majority",
            "confidence_threshold": None,
        },
    ],
)
def test_uncertain_first_is_refused_without_dynamic_overlap(changes):
    with pytest.raises(ValidationFailed) as refused:
        uncertain_project(**changes)

    assert "queue_order" in refused.value.extra["fields"]


def test_dropping_the_threshold_of_an_uncertain_first_project_is_refused():
    project = uncertain_project()

    with pytest.raises(ValidationFailed) as refused:
        project_update(project=project, actor=None, confidence_threshold=None)

    assert "queue_order" in refused.value.extra["fields"]
