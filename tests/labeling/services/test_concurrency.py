"""Many annotators claiming and submitting at once, on PostgreSQL, with real threads."""

import random
import threading
import time
from collections import Counter

import pytest
from django.db import connections

from labeling.errors import NoWorkAvailable
from labeling.models import (
    Annotation,
    Lease,
    LeaseState,
    SlotState,
    Task,
    TaskParticipation,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, make_project, make_worker

WORKERS = 32
TASKS = 1_000
OVERLAP = 3


def _work(project, user, errors, stop_at):
    rng = random.Random(user.pk)
    try:
        while time.monotonic() < stop_at:
            try:
                claim = slot_claim_next(project=project, user=user)
            except NoWorkAvailable as exc:
                if exc.extra["reason"] in {"all_leased", "contention"}:
                    time.sleep(0.01)
                    continue
                return
            lease_submit(
                lease_id=claim.lease.pk,
                user=user,
                result={"label": rng.choice(["cat", "dog", "bird"])},
            )
    except Exception as exc:  # reported to the test thread
        errors.append(repr(exc))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres  # row locking is exercised on PostgreSQL
def test_32_annotators_at_once_never_exceed_overlap_or_duplicate_or_lose_a_task():
    # Ties end unlabelled here (instead of going to review), so every task completes with its
    # annotations alone: this test is about the annotation slots.
    project = make_project(
        pipeline="consensus", overlap=OVERLAP, max_overlap=OVERLAP, tie_rule="leave_unlabelled"
    )
    for _ in range(TASKS // 500):
        add_tasks(project, 500)
    people = [make_worker() for _ in range(WORKERS)]
    errors: list[str] = []
    stop_at = time.monotonic() + 240

    threads = [
        threading.Thread(target=_work, args=(project, person, errors, stop_at)) for person in people
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    per_task = Counter(Annotation.objects.filter(project=project).values_list("task_id", flat=True))
    assert len(per_task) == TASKS, "a task was lost"
    assert set(per_task.values()) == {OVERLAP}, "overlap exceeded or not reached"
    pairs = Counter(Annotation.objects.filter(project=project).values_list("task_id", "author_id"))
    assert max(pairs.values()) == 1, "someone annotated a task twice"
    assert not Lease.objects.filter(project=project, state=LeaseState.ACTIVE).exists(), (
        "a lease never ended"
    )
    assert not WorkSlot.objects.filter(project=project).exclude(state=SlotState.DONE).exists()
    assert Task.objects.filter(project=project, status="completed").count() == TASKS
    assert TaskParticipation.objects.filter(task__project=project).count() == TASKS * OVERLAP
    project.refresh_from_db()
    assert (project.tasks_completed, project.annotations_total) == (TASKS, TASKS * OVERLAP)
