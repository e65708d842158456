"""The PostgreSQL claim and submit functions do what the Python path does, or step aside.

Every other test of the queue runs through them on PostgreSQL too (they are on by default);
these compare both paths on the same work, and check that each unusual case changes nothing
and is left to the Python path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import ValidationFailed
from labeling.api.views import claim_body, leased_body
from labeling.errors import NoWorkAvailable
from labeling.models import (
    Annotation,
    Lease,
    LeaseState,
    Project,
    Task,
    TaskParticipation,
    WorkerProjectState,
    WorkSlot,
)
from labeling.services.projects import project_update
from labeling.services.queue import (
    Claim,
    ClaimOutcome,
    _claim_once,
    lease_submit,
    slot_claim_next,
)
from labeling.services.queue_sql import claim_annotate_sql, submit_annotate_sql
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,  # the queue functions exist on PostgreSQL only
]

T0 = timezone.now().replace(microsecond=0)


def _rows(project: Project, users: list[Any]) -> dict[str, Any]:
    """Everything the queue wrote for `project`, with ids replaced by positions."""
    tasks = list(project.tasks.order_by("pk"))
    task_at = {t.pk: i for i, t in enumerate(tasks)}
    who = {u.pk: i for i, u in enumerate(users)}
    project.refresh_from_db()
    return {
        "project": (project.tasks_completed, project.annotations_total),
        "tasks": [
            (
                t.status,
                t.annotations_count,
                t.result,
                t.completed_at,
                t.agreement,
                t.is_tie,
                t.confidence,
                t.review_level,
            )
            for t in tasks
        ],
        "annotations": sorted(
            (
                task_at[a.task_id],
                who[a.author_id],
                a.revision,
                a.result,
                a.status,
                a.instructions_version,
                a.active_seconds,
                a.submitted_at,
                a.agreement,
            )
            for a in Annotation.objects.filter(project=project)
        ),
        "leases": sorted(
            (
                task_at[lease.task_id],
                who[lease.user_id],
                lease.state,
                lease.claimed_at,
                lease.expires_at,
                lease.last_seen_at,
                lease.ended_at,
                lease.active_seconds,
            )
            for lease in Lease.objects.filter(project=project)
        ),
        "slots": sorted(
            (task_at[s.task_id], s.kind, s.level, s.state, s.lease_expires_at)
            for s in WorkSlot.objects.filter(project=project)
        ),
        "participations": sorted(
            (task_at[p.task_id], who[p.user_id])
            for p in TaskParticipation.objects.filter(task__project=project)
        ),
        "states": sorted(
            (who[s.user_id], s.tasks_claimed, s.gold_claimed)
            for s in WorkerProjectState.objects.filter(project=project)
        ),
    }


def _work_through(settings: Any, *, use_sql: bool, **project_settings: Any) -> dict[str, Any]:
    settings.QUORUM_QUEUE_SQL = use_sql
    project = make_project(
        instructions="Label the animal.", queue_order="oldest", **project_settings
    )
    add_tasks(project, 4)
    users = [make_worker() for _ in range(3)]
    labels = ["cat", "dog", "cat"]
    now = T0
    for _ in range(6):
        for user, label in zip(users, labels, strict=True):
            now += timedelta(seconds=7)
            try:
                lease = slot_claim_next(project=project, user=user, now=now).lease
            except NoWorkAvailable:
                continue  # this person has done every task left to them
            lease_submit(
                lease_id=lease.pk,
                user=user,
                result={"label": label},
                now=now + timedelta(seconds=3),
            )
    return _rows(project, users)


@pytest.mark.parametrize(
    "project_settings",
    [
        {"pipeline": "standard", "overlap": 1},
        {"pipeline": "consensus", "overlap": 3, "max_overlap": 3},
        {"pipeline": "collection", "overlap": 2},
    ],
    ids=["standard", "consensus", "collection"],
)
def test_both_paths_write_the_same_rows(settings, project_settings):
    with_sql = _work_through(settings, use_sql=True, **project_settings)
    without = _work_through(settings, use_sql=False, **project_settings)

    assert with_sql == without
    assert with_sql["annotations"]  # the work really happened


def test_the_claim_response_is_the_same_on_both_paths(settings):
    project = make_project(instructions="Label the **animal**.")
    add_tasks(project, 2)
    user = make_worker()
    now = T0

    fast = claim_annotate_sql(project_id=project.pk, user=user, now=now, prefetch=False, draw=0.99)
    assert fast is not None
    settings.QUORUM_QUEUE_SQL = False
    other = make_worker()
    slow = slot_claim_next(project=project, user=other, now=now).lease

    def shape(body: dict[str, Any]) -> dict[str, Any]:
        body["lease"].pop("id")
        body["task"].pop("id")
        body["task"].pop("data")
        return body

    fast_body = shape(leased_body(ClaimOutcome(leased=fast)))
    assert fast_body == shape(claim_body(Claim(lease=slow, resumed=False)))
    assert fast_body["instructions"]["html"]


def _nothing_written(project: Project, user: Any) -> None:
    assert not Lease.objects.filter(project=project, user=user).exists()
    assert not TaskParticipation.objects.filter(task__project=project, user=user).exists()
    assert not WorkSlot.objects.filter(project=project, state="leased").exists()


def test_claim_steps_aside_for_a_paused_project():
    project = make_project(status="paused")
    add_tasks(project, 2)
    user = make_worker()

    assert (
        claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
        is None
    )
    _nothing_written(project, user)


def test_claim_steps_aside_for_someone_not_eligible():
    project = make_project()
    add_tasks(project, 2)
    user = make_worker(status="suspended")

    assert (
        claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
        is None
    )
    _nothing_written(project, user)


def test_claim_steps_aside_for_a_suspension_in_the_project():
    project = make_project()
    add_tasks(project, 2)
    user = make_worker()
    WorkerProjectState.objects.create(user=user, project=project, is_suspended=True)

    assert (
        claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
        is None
    )
    _nothing_written(project, user)


def test_claim_steps_aside_at_the_lease_limit_and_the_python_path_resumes():
    project = make_project()
    add_tasks(project, 3)
    user = make_worker()
    first = claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
    assert first is not None

    assert (
        claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
        is None
    )
    claim = slot_claim_next(project=project, user=user, now=T0)
    assert claim.resumed and claim.lease.pk == first.lease_id
    reserve = claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=True, draw=0.99)
    assert reserve is not None and reserve.lease_id != first.lease_id


def test_claim_steps_aside_when_only_an_expired_lease_is_left():
    project = make_project(lease_seconds=60)
    add_tasks(project, 1)
    holder, other = make_worker(), make_worker()
    held = slot_claim_next(project=project, user=holder, now=T0).lease
    later = T0 + timedelta(minutes=5)

    assert (
        claim_annotate_sql(project_id=project.pk, user=other, now=later, prefetch=False, draw=0.99)
        is None
    )
    taken = slot_claim_next(project=project, user=other, now=later).lease
    assert taken.task_id == held.task_id
    assert Lease.objects.get(pk=held.pk).state == LeaseState.EXPIRED


def _gold_project(**settings: Any) -> Project:
    from labeling.services.gold import gold_answer_set

    project = make_project(**settings)
    task_ids = add_tasks(project, 4)
    gold_answer_set(task=Task.objects.get(pk=task_ids[0]), result={"label": "cat"}, actor=None)
    return project


@pytest.mark.parametrize(
    ("settings_", "override", "draw", "due"),
    [
        ({"gold_warmup": 2}, None, 0.99, True),  # the warm-up is all gold
        ({"gold_warmup": 0, "gold_rates": {"regular": 0.3}}, None, 0.2, True),
        ({"gold_warmup": 0, "gold_rates": {"regular": 0.3}}, None, 0.5, False),
        ({"gold_warmup": 0, "gold_rates": {"regular": 0.3}}, 0.8, 0.5, True),  # a rule raised it
        ({"gold_warmup": 0, "gold_rates": {"probation": 0.9}}, None, 0.5, False),  # not hers
    ],
)
def test_the_gold_mix_is_decided_as_the_python_path_decides_it(settings_, override, draw, due):
    project = _gold_project(**settings_)
    user = make_worker()
    if override is not None:
        WorkerProjectState.objects.create(user=user, project=project, gold_rate_override=override)

    leased = claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=draw)

    if due:
        assert leased is None
        _nothing_written(project, user)
        served = slot_claim_next(project=project, user=user, now=T0, draw=draw).lease
        assert Task.objects.get(pk=served.task_id).is_gold  # the same draw, the same decision
    else:
        assert leased is not None
        assert not Task.objects.get(pk=leased.task_id).is_gold
        state = WorkerProjectState.objects.get(user=user, project=project)
        assert (state.tasks_claimed, state.gold_claimed) == (1, 0)


def test_submit_steps_aside_for_an_expired_lease_and_nothing_is_stored():
    project = make_project(lease_seconds=60)
    add_tasks(project, 1)
    user = make_worker()
    lease = slot_claim_next(project=project, user=user, now=T0).lease

    later = T0 + timedelta(minutes=2)
    assert (
        submit_annotate_sql(lease_id=lease.pk, user=user, result={"label": "cat"}, now=later)
        is None
    )
    assert not Annotation.objects.exists()
    assert Lease.objects.get(pk=lease.pk).state == LeaseState.ACTIVE


def test_submit_steps_aside_for_review_levels_and_webhooks():
    from labeling.services.webhooks import webhook_endpoint_create

    reviewed = make_project(review_levels=[{"level": 1, "rates": {"regular": 1.0}}])
    announced = make_project()
    webhook_endpoint_create(
        customer=announced.customer,
        url="https://hooks.example.test/quorum",
        events=["task.completed"],
        actor=None,
    )
    user = make_worker()
    for project in (reviewed, announced):
        add_tasks(project, 1)
        lease = slot_claim_next(project=project, user=user, now=T0).lease

        assert (
            submit_annotate_sql(lease_id=lease.pk, user=user, result={"label": "cat"}, now=T0)
            is None
        )
        assert not Annotation.objects.filter(project=project).exists()
        assert lease_submit(lease_id=lease.pk, user=user, result={"label": "cat"}, now=T0).pk


def test_submit_refuses_a_bad_result_by_name_and_stores_nothing():
    project = make_project()
    add_tasks(project, 1)
    user = make_worker()
    lease = slot_claim_next(project=project, user=user, now=T0).lease

    with pytest.raises(ValidationFailed) as refused:
        submit_annotate_sql(lease_id=lease.pk, user=user, result={"label": "horse"}, now=T0)

    assert "label" in str(refused.value.extra["fields"])
    assert not Annotation.objects.exists()
    assert Lease.objects.get(pk=lease.pk).state == LeaseState.ACTIVE


def test_a_claim_through_the_function_still_counts_for_the_python_path(settings):
    """Both paths lock the same per-person row: a double claim never holds two leases."""
    project = make_project()
    add_tasks(project, 3)
    user = make_worker()
    assert claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
    settings.QUORUM_QUEUE_SQL = False

    again = _claim_once(project, user, T0)

    assert again is not None and again.resumed
    assert Lease.objects.filter(user=user, state=LeaseState.ACTIVE).count() == 1


def test_a_submit_after_its_claim_in_this_process_is_one_query():
    project = make_project()
    add_tasks(project, 2)
    user = make_worker()
    leased = claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
    assert leased is not None

    with CaptureQueriesContext(connection) as queries:
        submitted = submit_annotate_sql(
            lease_id=leased.lease_id, user=user, result={"label": "dog"}, now=T0
        )

    assert submitted is not None and submitted.task_status == "completed"
    assert len(queries) == 1


def test_a_submit_judges_its_result_by_the_labels_of_now_not_of_the_claim():
    project = make_project()  # cat, dog, bird
    add_tasks(project, 2)
    user = make_worker()
    first = claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
    assert first is not None
    project_update(project=project, actor=None, labels=["cat", "dog"])  # nothing labelled yet

    with pytest.raises(ValidationFailed):
        lease_submit(lease_id=first.lease_id, user=user, result={"label": "bird"}, now=T0)
    lease_submit(lease_id=first.lease_id, user=user, result={"label": "dog"}, now=T0)
    second = claim_annotate_sql(project_id=project.pk, user=user, now=T0, prefetch=False, draw=0.99)
    assert second is not None
    project_update(project=project, actor=None, labels=["cat", "dog", "fish"])
    stored = lease_submit(lease_id=second.lease_id, user=user, result={"label": "fish"}, now=T0)

    assert stored.result == {"label": "fish"}
    assert sorted(Annotation.objects.values_list("result__label", flat=True)) == ["dog", "fish"]
