"""Consensus ties follow the project's tie rule: one more annotator, review, or left unlabelled."""

import pytest

from core.errors import ValidationFailed
from labeling.models import SlotKind, SlotState, Task, TaskStatus, WorkSlot
from labeling.services.claim import slot_claim_next
from labeling.services.projects import project_update
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db


def majority_project(**settings):
    return make_project(
        **{"pipeline": "consensus", "overlap": 2, "max_overlap": 3, "gold_warmup": 0, **settings}
    )


def label(project, value):
    person = make_worker()
    lease = slot_claim_next(project=project, user=person).lease
    lease_submit(lease_id=lease.pk, user=person, result={"label": value})


def open_slots(task_id, kind=SlotKind.ANNOTATE):
    return WorkSlot.objects.filter(task_id=task_id, kind=kind, state=SlotState.OPEN).count()


def test_new_projects_escalate_ties_by_default():
    project = majority_project()

    assert project.tie_rule == "escalate"


def test_an_escalated_tie_asks_one_more_annotator_who_settles_it():
    project = majority_project(tie_rule="escalate")
    [task_id] = add_tasks(project, 1)

    label(project, "cat")
    label(project, "dog")

    assert Task.objects.get(pk=task_id).status != TaskStatus.COMPLETED
    assert open_slots(task_id) == 1

    label(project, "dog")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "dog"}
    assert not task.is_tie


def test_a_tie_still_standing_at_the_maximum_overlap_goes_to_review_not_unlabelled():
    project = majority_project(tie_rule="escalate", overlap=2, max_overlap=2)
    [task_id] = add_tasks(project, 1)

    label(project, "cat")
    label(project, "dog")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.IN_REVIEW
    assert open_slots(task_id, SlotKind.REVIEW) == 1
    assert open_slots(task_id) == 0


def test_the_review_rule_sends_a_tie_to_review_at_once():
    project = majority_project(tie_rule="review")
    [task_id] = add_tasks(project, 1)

    label(project, "cat")
    label(project, "dog")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.IN_REVIEW
    assert open_slots(task_id) == 0
    assert open_slots(task_id, SlotKind.REVIEW) == 1


def test_leave_unlabelled_finishes_a_tie_without_a_label_and_reports_it():
    project = majority_project(tie_rule="leave_unlabelled")
    [task_id] = add_tasks(project, 1)

    label(project, "cat")
    label(project, "dog")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.is_tie
    assert task.result == {"label": None, "tied": ["cat", "dog"]}


def test_a_posterior_tie_escalates_too():
    project = majority_project(aggregation_method="dawid_skene", tie_rule="escalate")
    [task_id] = add_tasks(project, 1)

    label(project, "cat")
    label(project, "dog")

    assert open_slots(task_id) == 1
    label(project, "cat")
    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "cat"}


def test_an_agreed_task_takes_no_extra_annotator():
    project = majority_project(tie_rule="escalate")
    [task_id] = add_tasks(project, 1)

    label(project, "cat")
    label(project, "cat")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.annotations_count == 2


def test_an_unknown_tie_rule_is_refused_naming_the_field():
    project = majority_project()

    with pytest.raises(ValidationFailed) as refused:
        project_update(project=project, actor=None, tie_rule="coin_flip")

    assert "tie_rule" in refused.value.extra["fields"]
