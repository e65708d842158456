"""Queue orders: the keys new slots get, and the order in which claims then hand out work."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.forms.projects import ProjectForm
from labeling.models import Task, WorkSlot
from labeling.queue_order import UNCERTAIN_WAIT_CAP, slot_order_keys, uncertain_first_key
from labeling.services.claim import slot_claim_next
from labeling.services.completion import annotate_slot_add
from labeling.services.imports.batches import import_create_from_upload
from tests.labeling.factories import (
    add_tasks,
    make_customer,
    make_customer_user,
    make_project,
    make_worker,
)

MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_new_depth_first_task_gives_all_its_slots_one_key():
    keys = slot_order_keys(
        order="depth_first", task_id=7, count=3, batch_at=MOMENT, rng=random.Random(1)
    )

    assert len(keys) == 3
    assert len(set(keys)) == 1


def test_depth_first_keys_shuffle_the_tasks_of_a_batch():
    rng = random.Random(1)

    keys = [
        slot_order_keys(order="depth_first", task_id=i, batch_at=MOMENT, rng=rng)[0]
        for i in range(1, 21)
    ]

    assert keys != sorted(keys)


def test_a_later_depth_first_batch_comes_after_every_task_of_an_earlier_one():
    rng = random.Random(1)
    earlier = [
        slot_order_keys(order="depth_first", task_id=i, batch_at=MOMENT, rng=rng)[0]
        for i in range(1, 200)
    ]

    later = [
        slot_order_keys(
            order="depth_first", task_id=i, batch_at=MOMENT + timedelta(minutes=1), rng=rng
        )[0]
        for i in range(200, 400)
    ]

    assert max(earlier) < min(later)


def test_a_slot_of_a_depth_first_task_under_way_comes_before_every_new_task():
    newest_possible_first_key = 0  # new tasks' keys are never below it, whatever their batch

    (key,) = slot_order_keys(order="depth_first", task_id=2**40)

    assert key < newest_possible_first_key


def test_random_order_gives_each_slot_of_a_new_task_its_own_key():
    keys = slot_order_keys(
        order="random", task_id=7, count=3, batch_at=MOMENT, rng=random.Random(1)
    )

    assert len(set(keys)) == 3


def test_oldest_order_keys_slots_by_their_task_id():
    assert slot_order_keys(order="oldest", task_id=7, count=2, batch_at=MOMENT) == [7, 7]


@pytest.mark.django_db
def test_a_consensus_project_is_depth_first_unless_told_otherwise():
    consensus = make_project(pipeline="consensus", overlap=3, max_overlap=3)
    standard = make_project()
    chosen = make_project(pipeline="consensus", overlap=3, max_overlap=3, queue_order="random")

    assert consensus.queue_order == "depth_first"
    assert standard.queue_order == "random"
    assert chosen.queue_order == "random"


@pytest.mark.django_db
def test_the_project_form_left_at_its_default_order_lets_the_pipeline_decide():
    form = ProjectForm(
        data={
            "name": "Votes",
            "task_type": "single_label",
            "labels": "cat\ndog",
            "pipeline": "consensus",
            "overlap": 3,
            "lease_minutes": 10,
            "max_leases_per_person": 1,
            "priority": 0,
            "queue_order": "",
            "required_level": 1,
            "status": "active",
            "max_reworks": 2,
            "gold_warmup": 5,
        }
    )

    assert form.is_valid(), form.errors
    assert "queue_order" not in form.project_settings()


@pytest.mark.django_db
def test_an_imported_depth_first_task_has_one_key_for_all_its_slots(
    django_capture_on_commit_callbacks,
):
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3)
    lines = "\n".join(json.dumps({"text": f"item {i}"}) for i in range(20)) + "\n"

    with django_capture_on_commit_callbacks(execute=True):
        import_create_from_upload(
            project=project,
            upload=SimpleUploadedFile("tasks.jsonl", lines.encode()),
            actor=None,
        )

    keys: dict[int, set[int]] = {}
    for task_id, key in WorkSlot.objects.filter(project=project).values_list(
        "task_id", "order_key"
    ):
        keys.setdefault(task_id, set()).add(key)
    assert len(keys) == 20
    assert all(len(task_keys) == 1 for task_keys in keys.values())
    in_id_order = [next(iter(keys[task_id])) for task_id in sorted(keys)]
    assert in_id_order != sorted(in_id_order)


@pytest.mark.django_db
def test_depth_first_hands_the_rest_of_a_started_task_to_the_next_people():
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3)
    add_tasks(project, 30)

    first, second, third, fourth = (
        slot_claim_next(project=project, user=make_worker()).lease for _ in range(4)
    )

    assert first.task_id == second.task_id == third.task_id
    assert fourth.task_id != first.task_id


@pytest.mark.django_db
def test_another_annotator_asked_of_a_depth_first_task_is_served_before_new_tasks():
    project = make_project(pipeline="consensus", overlap=2, max_overlap=3)
    add_tasks(project, 10)
    last = (
        WorkSlot.objects.filter(project=project).order_by("-order_key").values_list("task_id")[0][0]
    )

    annotate_slot_add(task=Task.objects.get(pk=last), project=project)
    lease = slot_claim_next(project=project, user=make_worker()).lease

    assert lease.task_id == last


@pytest.mark.django_db
def test_the_api_creates_a_consensus_project_depth_first(client):
    customer = make_customer()
    client.force_login(make_customer_user(customer))

    response = client.post(
        "/api/v1/projects/",
        {
            "name": "Votes",
            "preset": "sentiment",
            "pipeline": "consensus",
            "overlap": 3,
            "max_overlap": 3,
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["queue_order"] == "depth_first"


def test_an_uncertain_first_key_puts_the_less_certain_task_first():
    unsure = uncertain_first_key(confidence=0.4, classes=3, now=MOMENT)
    sure = uncertain_first_key(confidence=0.96, classes=3, now=MOMENT)

    assert unsure < sure


def test_an_uncertain_first_key_is_overtaken_only_within_the_wait_cap():
    certain_then = uncertain_first_key(confidence=1.0, classes=3, now=MOMENT)

    unsure_within = uncertain_first_key(
        confidence=1 / 3, classes=3, now=MOMENT + UNCERTAIN_WAIT_CAP - timedelta(seconds=1)
    )
    unsure_after = uncertain_first_key(
        confidence=1 / 3, classes=3, now=MOMENT + UNCERTAIN_WAIT_CAP + timedelta(seconds=1)
    )

    assert unsure_within < certain_then < unsure_after


def test_uncertain_first_keys_sit_after_unfinished_minimums_and_before_new_tasks():
    (short_of_minimum,) = slot_order_keys(order="uncertain_first", task_id=2**40)
    (new_task,) = slot_order_keys(
        order="uncertain_first", task_id=7, batch_at=MOMENT, rng=random.Random(1)
    )

    key = uncertain_first_key(confidence=1.0, classes=2, now=MOMENT + timedelta(days=365 * 50))

    assert short_of_minimum < key < 0 <= new_task
