"""The review hierarchy: routing, verdicts, rework, and reviewer accuracy, through the services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from core.audit import audit_events_about
from core.errors import ValidationFailed
from core.models import AuditEvent
from labeling.errors import NotQualified, NoWorkAvailable
from labeling.models import (
    Annotation,
    AnnotationStatus,
    Review,
    SlotKind,
    SlotState,
    Task,
    TaskStatus,
    WorkSlot,
)
from labeling.services import review as review_service
from labeling.services.claim import slot_claim_next
from labeling.services.review import review_claim_next, review_submit, rework_claim
from labeling.services.submit import lease_skip, lease_submit
from tests.factories import make_user
from tests.labeling.factories import (
    ALWAYS,
    add_tasks,
    annotate,
    make_project,
    make_worker,
    review,
    two_level_project,
)
from workforce.models import AnnotatorProfile

pytestmark = pytest.mark.django_db


def test_sampled_work_waits_in_review_and_is_final_after_every_level_approves():
    project = two_level_project()
    [task_id] = add_tasks(project, 1)
    worker = make_worker()
    first, second = make_user(Role.REVIEWER, level=1), make_user(Role.REVIEWER, level=2)

    annotation = annotate(project, worker)
    assert Task.objects.get(pk=task_id).status == TaskStatus.IN_REVIEW
    review(project, first, "approve")
    assert Task.objects.get(pk=task_id).status == TaskStatus.IN_REVIEW
    review(project, second, "approve")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "cat"}
    assert task.review_level == 2
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.ACCEPTED
    project.refresh_from_db()
    assert project.tasks_completed == 1
    assert Review.objects.get(level=1).upheld is True


def test_a_reviewer_never_gets_their_own_work():
    project = two_level_project()
    add_tasks(project, 1)
    both = make_user(Role.REVIEWER, level=2)
    AnnotatorProfile.objects.filter(user=both).update(status="active")

    annotate(project, both)

    with pytest.raises(NoWorkAvailable):
        review_claim_next(project=project, user=both)


def test_a_level_one_reviewer_cannot_take_level_two_work_and_annotators_cannot_review():
    project = two_level_project()
    add_tasks(project, 1)
    annotate(project, make_worker())
    review(project, make_user(Role.REVIEWER, level=1), "approve")

    with pytest.raises(NoWorkAvailable):
        review_claim_next(project=project, user=make_user(Role.REVIEWER, level=1))
    with pytest.raises(NotQualified):
        review_claim_next(project=project, user=make_worker())


def test_a_reviewer_who_reviewed_level_one_does_not_audit_it_at_level_two():
    project = two_level_project()
    add_tasks(project, 1)
    senior = make_user(Role.REVIEWER, level=2)
    annotate(project, make_worker())
    # The senior reviewer takes level 2 work first, but there is none yet: they review level 1.
    review(project, senior, "approve")

    with pytest.raises(NoWorkAvailable):
        review_claim_next(project=project, user=senior)


def test_reject_sends_work_back_to_its_author_and_the_resubmission_is_reviewed_again():
    project = two_level_project(review_levels=[{"rates": ALWAYS}])
    [task_id] = add_tasks(project, 1)
    worker, reviewer = make_worker(), make_user(Role.REVIEWER, level=1)
    first = annotate(project, worker, "dog")

    review(project, reviewer, "reject", reason="wrong_label", comment="It is a cat.")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.OPEN
    assert Annotation.objects.get(pk=first.pk).status == AnnotationStatus.REJECTED
    slot = WorkSlot.objects.get(kind=SlotKind.REWORK)
    assert slot.assignee_id == worker.pk
    with pytest.raises(NoWorkAvailable):
        slot_claim_next(project=project, user=make_worker())  # nobody else gets it

    lease = rework_claim(slot_id=slot.pk, user=worker).lease
    second = lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
    assert second.revision == 2
    assert Task.objects.get(pk=task_id).status == TaskStatus.IN_REVIEW
    review(project, make_user(Role.REVIEWER, level=1), "approve")

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "cat"}
    assert Annotation.objects.get(pk=first.pk).status == AnnotationStatus.REJECTED


def test_reject_needs_a_reason_and_is_audited():
    project = two_level_project(review_levels=[{"rates": ALWAYS}])
    [task_id] = add_tasks(project, 1)
    annotate(project, make_worker())
    reviewer = make_user(Role.REVIEWER, level=1)
    lease = review_claim_next(project=project, user=reviewer).lease

    with pytest.raises(ValidationFailed) as error:
        review_submit(lease_id=lease.pk, user=reviewer, verdict="reject")
    assert "reason" in error.value.extra["fields"]
    review_submit(lease_id=lease.pk, user=reviewer, verdict="reject", reason="guidelines")

    events = [
        e.action for e in audit_events_about(AuditEvent.objects.all(), Task.objects.get(pk=task_id))
    ]
    assert "review.reject" in events


def test_after_the_rework_limit_the_task_goes_to_someone_else():
    project = two_level_project(review_levels=[{"rates": ALWAYS}], max_reworks=1)
    [task_id] = add_tasks(project, 1)
    author = make_worker()
    annotate(project, author, "dog")
    review(project, make_user(Role.REVIEWER, level=1), "reject", reason="wrong_label")
    slot = WorkSlot.objects.get(kind=SlotKind.REWORK)
    lease = rework_claim(slot_id=slot.pk, user=author).lease
    lease_submit(lease_id=lease.pk, user=author, result={"label": "bird"})

    review(project, make_user(Role.REVIEWER, level=1), "reject", reason="wrong_label")

    assert not WorkSlot.objects.filter(kind=SlotKind.REWORK, state=SlotState.OPEN).exists()
    with pytest.raises(NoWorkAvailable):
        slot_claim_next(project=project, user=author)
    other = make_worker()
    annotate(project, other, "cat")
    assert Task.objects.get(pk=task_id).status == TaskStatus.IN_REVIEW


def test_a_reopened_rework_is_credited_from_its_reopening():
    project = two_level_project(review_levels=[{"rates": ALWAYS}], idle_cap_seconds=120)
    add_tasks(project, 1)
    author = make_worker()
    annotate(project, author, "dog")
    review(project, make_user(Role.REVIEWER, level=1), "reject", reason="wrong_label")
    slot = WorkSlot.objects.get(kind=SlotKind.REWORK)
    start = timezone.now()
    lease = rework_claim(slot_id=slot.pk, user=author, now=start).lease

    again = rework_claim(slot_id=slot.pk, user=author, now=start + timedelta(seconds=200))
    second = lease_submit(
        lease_id=lease.pk, user=author, result={"label": "cat"}, now=start + timedelta(seconds=205)
    )

    assert again.resumed and again.lease.pk == lease.pk
    assert second.active_seconds == 5


def test_skipping_a_rework_hands_the_task_to_someone_else():
    project = two_level_project(review_levels=[{"rates": ALWAYS}])
    add_tasks(project, 1)
    author = make_worker()
    annotate(project, author, "dog")
    review(project, make_user(Role.REVIEWER, level=1), "reject", reason="wrong_label")
    slot = WorkSlot.objects.get(kind=SlotKind.REWORK)
    lease = rework_claim(slot_id=slot.pk, user=author).lease

    lease_skip(lease_id=lease.pk, user=author, reason="I do not know")

    assert WorkSlot.objects.get(pk=slot.pk).state == SlotState.CANCELLED
    annotate(project, make_worker(), "cat")


def test_a_correction_is_a_new_revision_by_the_reviewer_and_scores_the_original():
    project = two_level_project(review_levels=[{"rates": ALWAYS}])
    [task_id] = add_tasks(project, 1)
    original = annotate(project, make_worker(), "dog")
    reviewer = make_user(Role.REVIEWER, level=1)

    verdict = review(project, reviewer, "correct", result={"label": "cat"})

    assert verdict.correction.author_id == reviewer.pk
    assert verdict.correction.corrects_id == original.pk
    assert verdict.correction_score == 0.0
    assert Annotation.objects.get(pk=original.pk).status == AnnotationStatus.CORRECTED
    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "cat"}


def test_a_level_two_correction_marks_the_level_one_approval_as_not_upheld():
    project = two_level_project()
    add_tasks(project, 1)
    annotate(project, make_worker(), "dog")
    review(project, make_user(Role.REVIEWER, level=1), "approve")

    review(project, make_user(Role.REVIEWER, level=2), "correct", result={"label": "bird"})

    assert Review.objects.get(level=1).upheld is False


def test_sampling_follows_the_rate_of_the_authors_standing():
    # Seeded: 30% of a regular annotator's work is reviewed, within a statistical tolerance.
    review_service.sampler.seed(7)
    project = make_project(
        review_levels=[{"rates": {"probation": 1.0, "regular": 0.3, "trusted": 0.1}}],
        gold_warmup=0,
    )
    add_tasks(project, 400)
    worker = make_worker()

    for _ in range(400):
        annotate(project, worker)

    reviewed = WorkSlot.objects.filter(kind=SlotKind.REVIEW).count()
    assert 0.3 * 400 - 3 * (400 * 0.3 * 0.7) ** 0.5 < reviewed < 0.3 * 400 + 3 * (84**0.5)


def test_probation_work_is_always_reviewed():
    project = make_project(
        review_levels=[{"rates": {"probation": 1.0, "regular": 0.0, "trusted": 0.0}}],
        gold_warmup=0,
    )
    add_tasks(project, 5)
    newcomer = make_worker(status="probation")

    for _ in range(5):
        annotate(project, newcomer)

    assert WorkSlot.objects.filter(kind=SlotKind.REVIEW).count() == 5


def test_a_consensus_aggregate_can_be_approved_or_corrected_but_not_rejected():
    project = make_project(
        pipeline="consensus", overlap=2, max_overlap=2, review_levels=[{"rates": ALWAYS}]
    )
    [task_id] = add_tasks(project, 1)
    annotate(project, make_worker(), "cat")
    annotate(project, make_worker(), "dog")
    assert Task.objects.get(pk=task_id).status == TaskStatus.IN_REVIEW
    reviewer = make_user(Role.REVIEWER, level=1)
    lease = review_claim_next(project=project, user=reviewer).lease

    with pytest.raises(ValidationFailed):
        review_submit(lease_id=lease.pk, user=reviewer, verdict="reject", reason="other")
    review_submit(lease_id=lease.pk, user=reviewer, verdict="correct", result={"label": "dog"})

    task = Task.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "dog"}


def test_the_export_carries_each_review_and_the_correction_provenance():
    from labeling.services.exports.rows import export_rows

    project = two_level_project()
    add_tasks(project, 1)
    original = annotate(project, make_worker(), "dog")
    review(project, make_user(Role.REVIEWER, level=1), "approve")
    verdict = review(project, make_user(Role.REVIEWER, level=2), "correct", result={"label": "cat"})

    [row] = list(export_rows(project=project))

    assert row["result"] == {"label": "cat"}
    assert [(r["level"], r["verdict"]) for r in row["reviews"]] == [(1, "approve"), (2, "correct")]
    assert row["reviews"][1]["correction_id"] == verdict.correction_id
    by_id = {a["annotation_id"]: a for a in row["annotations"]}
    assert by_id[verdict.correction_id]["corrects"] == original.pk
    assert by_id[original.pk]["status"] == "corrected"
