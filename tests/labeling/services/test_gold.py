"""Gold tasks: hidden answers, the mix into each person's stream, scoring, fixing and retiring."""

import json

import pytest
from django.core.cache import cache

from core.errors import Conflict, ValidationFailed
from labeling.errors import NoWorkAvailable
from labeling.models import GoldScore, SlotKind, SlotState, Task, TaskStatus, WorkSlot
from labeling.services import gold as gold_service
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set, gold_retire
from labeling.services.leases import lease_release
from labeling.services.submit import lease_submit
from tests.labeling.factories import add_tasks, make_project, make_worker

# The behaviour suite runs through both writers of claims and submissions (see conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queue_writer")]


def gold_project(gold=2, tasks=5, **settings):
    settings.setdefault("gold_warmup", 2)
    settings.setdefault("gold_rates", {"probation": 0.0, "regular": 0.0, "trusted": 0.0})
    project = make_project(**settings)
    ids = add_tasks(project, tasks + gold)
    for task_id in ids[:gold]:
        gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "cat"}, actor=None)
    project.refresh_from_db()
    return project, ids[:gold], ids[gold:]


def test_making_a_task_gold_takes_it_out_of_the_queue_and_the_progress():
    project, gold_ids, _ = gold_project(gold=1, tasks=2)

    assert project.tasks_total == 2
    assert not WorkSlot.objects.filter(task_id=gold_ids[0], state=SlotState.OPEN).exists()
    assert Task.objects.get(pk=gold_ids[0]).is_gold


def test_the_first_tasks_of_a_person_are_gold_then_regular_ones():
    project, gold_ids, regular_ids = gold_project(gold=2, tasks=3)
    worker = make_worker()

    served = []
    for _ in range(4):
        lease = slot_claim_next(project=project, user=worker).lease
        served.append(lease.task_id)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    assert set(served[:2]) == set(gold_ids)
    assert set(served[2:]) <= set(regular_ids)


def test_gold_is_scored_at_once_and_never_completes():
    project, gold_ids, _ = gold_project(gold=1, tasks=1, gold_warmup=1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease

    annotation = lease_submit(lease_id=lease.pk, user=worker, result={"label": "dog"})

    score = GoldScore.objects.get(annotation=annotation)
    assert score.value == 0.0
    assert score.user_id == worker.pk
    task = Task.objects.get(pk=gold_ids[0])
    assert task.status == TaskStatus.OPEN
    project.refresh_from_db()
    assert project.tasks_completed == 0


def test_gold_mix_after_the_warm_up_follows_the_rate():
    gold_service.sampler.seed(3)
    project, _, _ = gold_project(
        gold=60, tasks=200, gold_warmup=0, gold_rates={"probation": 0.2, "regular": 0.2}
    )
    worker = make_worker()

    kinds = []
    for _ in range(200):
        lease = slot_claim_next(project=project, user=worker).lease
        kinds.append(lease.slot.kind)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    gold_share = kinds.count(SlotKind.GOLD) / len(kinds)
    assert 0.12 < gold_share < 0.28


def test_a_person_never_sees_the_same_gold_task_twice():
    project, gold_ids, regular_ids = gold_project(gold=1, tasks=1, gold_warmup=5)
    worker = make_worker()

    first = slot_claim_next(project=project, user=worker).lease
    lease_submit(lease_id=first.pk, user=worker, result={"label": "cat"})
    second = slot_claim_next(project=project, user=worker).lease
    lease_submit(lease_id=second.pk, user=worker, result={"label": "cat"})

    assert (first.task_id, second.task_id) == (gold_ids[0], regular_ids[0])
    with pytest.raises(NoWorkAvailable):
        slot_claim_next(project=project, user=worker)


def test_a_released_gold_slot_is_dropped_not_returned_to_the_queue():
    project, gold_ids, _ = gold_project(gold=1, tasks=1, gold_warmup=1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease

    lease_release(lease_id=lease.pk, user=worker)

    assert WorkSlot.objects.get(pk=lease.slot_id).state == SlotState.CANCELLED
    other = make_worker()
    regular = slot_claim_next(project=project, user=other).lease  # gold again, by the mix
    assert regular.task_id == gold_ids[0]


def test_fixing_a_gold_answer_rescores_past_work():
    project, gold_ids, _ = gold_project(gold=1, tasks=1, gold_warmup=1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease
    annotation = lease_submit(lease_id=lease.pk, user=worker, result={"label": "dog"})
    assert GoldScore.objects.get(annotation=annotation).value == 0.0

    gold_answer_set(task=Task.objects.get(pk=gold_ids[0]), result={"label": "dog"}, actor=None)

    score = GoldScore.objects.get(annotation=annotation)
    assert score.value == 1.0
    assert score.answer_version == 2


def test_a_retired_gold_task_is_no_longer_served():
    project, gold_ids, regular_ids = gold_project(gold=1, tasks=1, gold_warmup=5)
    gold_retire(task=Task.objects.get(pk=gold_ids[0]), actor=None)
    cache.clear()

    lease = slot_claim_next(project=project, user=make_worker()).lease

    assert lease.task_id == regular_ids[0]


def test_a_gold_answer_is_validated_against_the_schema():
    project = make_project()
    [task_id] = add_tasks(project, 1)

    with pytest.raises(ValidationFailed) as error:
        gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "zebra"}, actor=None)

    assert "result.label" in json.dumps(error.value.extra)
    assert not Task.objects.get(pk=task_id).is_gold


def test_a_task_somebody_worked_on_cannot_become_gold():
    project = make_project()
    [task_id] = add_tasks(project, 1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease
    lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    with pytest.raises(Conflict):
        gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "cat"}, actor=None)


def test_training_mode_feedback_after_gold_shows_the_answer(client):
    from tests.labeling.api.test_work import post

    project, _, _ = gold_project(gold=1, tasks=1, gold_warmup=1, gold_feedback=True)
    worker = make_worker()
    client.force_login(worker)
    claim = post(client, f"/api/v1/projects/{project.pk}/claim/").json()

    done = post(
        client, f"/api/v1/leases/{claim['lease']['id']}/submit/", {"result": {"label": "dog"}}
    )

    feedback = done.json()["feedback"]
    assert feedback["correct"] is False
    assert feedback["expected"] == {"label": "cat"}


def test_an_import_line_with_a_gold_answer_makes_a_gold_task_with_its_answer_apart():
    from labeling.models import GoldAnswer
    from labeling.services.imports.batches import tasks_create

    project = make_project()

    outcome = tasks_create(
        project=project,
        tasks=[{"text": "A cat.", "gold": {"label": "cat"}}, {"text": "Something else."}],
        actor=None,
    )

    assert (outcome.created, outcome.gold) == (2, 1)  # created counts every stored task
    gold = Task.objects.get(is_gold=True)
    assert GoldAnswer.objects.get(task=gold).result == {"label": "cat"}
    assert "gold" not in gold.meta
    assert not WorkSlot.objects.filter(task=gold).exists()
    project.refresh_from_db()
    assert project.tasks_total == 1


def test_an_import_with_a_bad_gold_answer_is_rejected_naming_the_line():
    from labeling.services.imports.batches import tasks_create

    project = make_project()

    with pytest.raises(ValidationFailed) as error:
        tasks_create(
            project=project,
            tasks=[{"text": "Fine."}, {"text": "A cat.", "gold": {"label": "zebra"}}],
            actor=None,
        )

    assert "tasks[1].gold.label" in error.value.extra["fields"]
    assert not Task.objects.filter(project=project).exists()


def test_gold_tasks_are_not_in_exports():
    from labeling.services.exports.rows import export_rows

    project, _, regular_ids = gold_project(gold=1, tasks=2)

    rows = list(export_rows(project=project, final_only=False))

    assert sorted(r["task_id"] for r in rows) == sorted(regular_ids)


def test_a_scored_gold_answer_is_announced_as_work_scored_with_its_facts():
    from labeling.events import work_scored

    project, gold_ids, _ = gold_project(gold=1, tasks=1, gold_warmup=1)
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease
    heard = []

    def listen(sender, signal, **facts):
        heard.append(facts)

    work_scored.connect(listen, dispatch_uid="test-gold-work-scored")
    try:
        annotation = lease_submit(lease_id=lease.pk, user=worker, result={"label": "dog"})
    finally:
        work_scored.disconnect(dispatch_uid="test-gold-work-scored")

    assert heard == [
        {
            "user_id": worker.pk,
            "project_id": project.pk,
            "task_id": gold_ids[0],
            "annotation_id": annotation.pk,
            "source": "gold",
            "value": 0.0,
            "verdict": None,
            "review_id": None,
        }
    ]
