"""A rework waits only for an author who may still work: when the author leaves (suspended,
offboarded, deactivated, erased, or suspended from the project by a quality rule), the sweep hands
the task to someone else, as after the rework limit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.erasure import personal_data_erase
from accounts.models import Role
from accounts.services import user_set_active
from core.models import AuditEvent
from labeling.errors import NotQualified
from labeling.jobs.queue import reworks_reassign_orphaned as reworks_reassign_orphaned_task
from labeling.models import SlotKind, SlotState, WorkerProjectState, WorkSlot
from labeling.services.review import rework_claim, reworks_reassign_orphaned
from labeling.services.submit import lease_submit
from quality.services.evaluation import rules_evaluate
from tests.factories import make_user
from tests.labeling.factories import (
    ALWAYS,
    add_tasks,
    annotate,
    make_worker,
    review,
    two_level_project,
)
from tests.quality.factories import GOLD_SPAM, gold_record, make_manager, spam_rule
from workforce.models import AnnotatorProfile, AnnotatorStatus
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed_project():
    return two_level_project(review_levels=[{"rates": ALWAYS}])


@pytest.fixture
def author():
    return make_worker()


@pytest.fixture
def rework(reviewed_project, author):
    """The author's work on the project's one task, rejected: a rework slot reserved for them."""
    add_tasks(reviewed_project, 1)
    annotate(reviewed_project, author, "dog")
    review(reviewed_project, make_user(Role.REVIEWER, level=1), "reject", reason="wrong_label")
    return WorkSlot.objects.get(kind=SlotKind.REWORK, assignee=author)


def handed_over(rework):
    """The rework slot is cancelled and the task asks anyone for one more annotation."""
    cancelled = WorkSlot.objects.get(pk=rework.pk).state == SlotState.CANCELLED
    asks_anyone = WorkSlot.objects.filter(
        task_id=rework.task_id, kind=SlotKind.ANNOTATE, state=SlotState.OPEN, assignee=None
    ).count()
    return cancelled and asks_anyone == 1


@pytest.mark.parametrize("status", [AnnotatorStatus.SUSPENDED, AnnotatorStatus.OFFBOARDED])
def test_a_rework_of_an_author_who_stopped_working_goes_to_someone_else(author, rework, status):
    annotator_status_set(profile=author.annotator_profile, status=status, actor=None)

    reassigned = reworks_reassign_orphaned()

    assert reassigned == 1
    assert handed_over(rework)


def test_a_rework_of_a_deactivated_author_goes_to_someone_else(author, rework):
    user_set_active(user=author, is_active=False, actor=None)

    reworks_reassign_orphaned()

    assert handed_over(rework)


def test_a_rework_of_an_author_whose_data_was_erased_goes_to_someone_else(author, rework):
    personal_data_erase(user=author, actor=make_user(Role.ADMIN))

    reworks_reassign_orphaned()

    assert handed_over(rework)


def test_a_rework_of_an_author_suspended_from_the_project_by_a_quality_rule_goes_to_someone_else(
    reviewed_project, author, rework
):
    spam_rule(make_manager(), project=reviewed_project, action="suspend_project", duration_hours=24)
    gold_record(reviewed_project, author, GOLD_SPAM)
    [action] = rules_evaluate(user=author, project=reviewed_project)

    reworks_reassign_orphaned()

    assert action.kind == "suspend_project"
    assert handed_over(rework)


def test_a_rework_waits_for_an_author_who_may_still_work(author, rework):
    ended = WorkerProjectState.objects.filter(user=author, project_id=rework.project_id).update(
        is_suspended=True,
        suspended_until=timezone.now() - timedelta(minutes=1),  # a suspension that has ended
    )

    reassigned = reworks_reassign_orphaned()

    assert (ended, reassigned) == (1, 0)
    assert WorkSlot.objects.get(pk=rework.pk).state == SlotState.OPEN
    assert rework_claim(slot_id=rework.pk, user=author).lease.slot_id == rework.pk


def test_a_rework_being_worked_on_is_handed_over_only_after_its_lease_ends(author, rework):
    lease = rework_claim(slot_id=rework.pk, user=author).lease
    annotator_status_set(profile=author.annotator_profile, status="suspended", actor=None)

    during = reworks_reassign_orphaned()
    lease_submit(lease_id=lease.pk, user=author, result={"label": "cat"})
    after = reworks_reassign_orphaned()

    assert (during, after) == (0, 0)
    assert WorkSlot.objects.get(pk=rework.pk).state == SlotState.DONE


def test_handing_over_is_audited_and_a_second_sweep_changes_nothing(author, rework):
    annotator_status_set(profile=author.annotator_profile, status="offboarded", actor=None)

    first = reworks_reassign_orphaned_task.delay().get()
    second = reworks_reassign_orphaned_task.delay().get()

    assert (first, second) == (1, 0)
    assert handed_over(rework)
    event = AuditEvent.objects.get(action="rework.reassigned")
    assert event.before == {"assignee": author.pk, "state": "open"}


def test_an_author_who_may_no_longer_work_cannot_claim_the_rework(author, rework):
    annotator_status_set(profile=author.annotator_profile, status="suspended", actor=None)

    with pytest.raises(NotQualified):
        rework_claim(slot_id=rework.pk, user=author)

    assert WorkSlot.objects.get(pk=rework.pk).state == SlotState.OPEN
    assert AnnotatorProfile.objects.get(user=author).status == "suspended"
