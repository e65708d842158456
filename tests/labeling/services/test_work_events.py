"""Labeling announces handed-in and final work (`work_submitted`, `work_final`) inside the
transaction that stored it, whichever writer stored it: a subscriber's writes commit or roll back
with the work."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Role
from labeling.events import work_final, work_submitted
from labeling.models import Annotation, Lease, LeaseState
from labeling.services.claim import slot_claim_next
from labeling.services.review import review_claim_next, review_submit
from labeling.services.submit import lease_submit
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queue_writer")]


@pytest.fixture
def heard():
    """What the work events said, in order: (event name, arguments)."""
    said: list[tuple[str, dict[str, Any]]] = []

    def on_submitted(sender: Any, **facts: Any) -> None:
        said.append(("submitted", facts))

    def on_final(sender: Any, **facts: Any) -> None:
        said.append(("final", facts))

    work_submitted.connect(on_submitted, weak=False, dispatch_uid="test-submitted")
    work_final.connect(on_final, weak=False, dispatch_uid="test-final")
    yield said
    work_submitted.disconnect(dispatch_uid="test-submitted")
    work_final.disconnect(dispatch_uid="test-final")


def test_an_ordinary_submission_is_announced_submitted_then_final(heard):
    project = make_project()
    add_tasks(project, 1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease

    annotation = lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    assert [name for name, _ in heard] == ["submitted", "final"]
    submitted, final = heard[0][1], heard[1][1]
    assert submitted["annotation_id"] == annotation.pk and submitted["kind"] == "annotate"
    assert (submitted["user_id"], submitted["project_id"]) == (worker.pk, project.pk)
    assert submitted["active_seconds"] >= 0 and submitted["review_id"] is None
    assert final["task_id"] == annotation.task_id and final["completed_at"] is not None


def test_work_still_waiting_for_its_overlap_is_announced_submitted_only(heard):
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2)
    add_tasks(project, 1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease

    lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    assert [name for name, _ in heard] == ["submitted"]


def test_a_subscriber_that_fails_undoes_the_submission(heard):
    project = make_project()
    add_tasks(project, 1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease

    def refuse(sender: Any, **facts: Any) -> None:
        raise RuntimeError("the ledger is closed")

    work_submitted.connect(refuse, weak=False, dispatch_uid="test-refuse")
    try:
        with pytest.raises(RuntimeError):
            lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
    finally:
        work_submitted.disconnect(dispatch_uid="test-refuse")

    assert not Annotation.objects.exists()
    assert Lease.objects.get(pk=lease.pk).state == LeaseState.ACTIVE


def test_a_review_verdict_is_announced_as_submitted_review_work(heard):
    project = make_project(review_levels=[{"level": 1, "rates": {"regular": 1.0}}])
    add_tasks(project, 1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease
    lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
    reviewer = make_user(Role.REVIEWER, level=1)
    review_lease = review_claim_next(project=project, user=reviewer).lease
    heard.clear()

    review = review_submit(lease_id=review_lease.pk, user=reviewer, verdict="approve")

    assert [name for name, _ in heard] == ["submitted", "final"]
    submitted = heard[0][1]
    assert (submitted["kind"], submitted["review_id"], submitted["user_id"]) == (
        "review",
        review.pk,
        reviewer.pk,
    )


def test_a_new_project_is_announced_once_with_its_creator():
    from labeling.events import project_created

    calls: list[dict[str, Any]] = []

    def on_created(sender: Any, **facts: Any) -> None:
        calls.append(facts)

    project_created.connect(on_created, weak=False, dispatch_uid="test-project-created")
    try:
        project = make_project()
    finally:
        project_created.disconnect(dispatch_uid="test-project-created")

    assert calls == [{"project_id": project.pk, "actor_id": None, "signal": project_created}]
