"""Claiming, leases, submission and completion through the services."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import ValidationFailed
from labeling.errors import LeaseExpired, LeaseNotActive, NotQualified, NoWorkAvailable
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
from labeling.services.leases import (
    lease_heartbeat,
    lease_release,
    lease_start,
    leases_reclaim_expired,
)
from labeling.services.submit import lease_skip, lease_submit
from tests.labeling.factories import add_tasks, make_project, make_worker
from workforce.models import Skill

# The behaviour suite runs through both writers of claims and submissions (see conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queue_writer")]


def claim(project, user, **kw):
    return slot_claim_next(project=project, user=user, **kw).lease


def test_a_claim_leases_a_task_with_an_expiry_set_by_the_project():
    project = make_project(lease_seconds=300)
    add_tasks(project, 2)
    worker = make_worker()
    before = timezone.now()

    lease = claim(project, worker)

    assert lease.state == LeaseState.ACTIVE
    assert (
        before + timedelta(seconds=299)
        < lease.expires_at
        <= timezone.now() + timedelta(seconds=300)
    )
    assert WorkSlot.objects.get(pk=lease.slot_id).state == SlotState.LEASED


def test_a_second_claim_while_holding_a_lease_returns_the_same_lease():
    project = make_project()
    add_tasks(project, 3)
    worker = make_worker()

    first = slot_claim_next(project=project, user=worker)
    second = slot_claim_next(project=project, user=worker)

    assert second.lease.pk == first.lease.pk
    assert second.resumed is True
    assert Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).count() == 1


def test_a_project_may_allow_several_leases_per_person():
    project = make_project(max_leases_per_person=2)
    add_tasks(project, 3)
    worker = make_worker()

    a, b = claim(project, worker), claim(project, worker)

    assert a.pk != b.pk
    assert a.task_id != b.task_id


def test_claim_next_skips_tasks_the_annotator_already_labeled():
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2)
    first_task, second_task = add_tasks(project, 2)
    worker = make_worker()
    lease = claim(project, worker)
    lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    again = claim(project, worker)

    assert {lease.task_id, again.task_id} == {first_task, second_task}


def test_overlap_is_never_exceeded_and_each_person_annotates_a_task_once():
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2)
    (task_id,) = add_tasks(project, 1)
    workers = [make_worker() for _ in range(3)]

    for worker in workers[:2]:
        lease = claim(project, worker)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "dog"})
    with pytest.raises(NoWorkAvailable) as nothing:
        claim(project, workers[2])

    assert Annotation.objects.filter(task_id=task_id).count() == 2
    assert nothing.value.extra["reason"] == "nothing_left"


def test_higher_priority_tasks_come_first():
    from labeling.services.imports.batches import tasks_create

    project = make_project(queue_order="oldest")
    add_tasks(project, 2)
    tasks_create(project=project, tasks=[{"text": "urgent one", "priority": 10}], actor=None)
    urgent_id = project.tasks.get(data__text="urgent one").pk

    lease = claim(project, make_worker())

    assert lease.task_id == urgent_id


def test_oldest_order_hands_out_tasks_in_import_order():
    project = make_project(queue_order="oldest", pipeline="consensus", overlap=2, max_overlap=2)
    ids = add_tasks(project, 3)
    worker = make_worker()

    seen = []
    for _ in range(3):
        lease = claim(project, worker)
        seen.append(lease.task_id)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    assert seen == ids


def test_a_claim_never_returns_customer_metadata():
    from labeling.api.work import claim_body
    from labeling.services.imports.batches import tasks_create

    project = make_project()
    tasks_create(
        project=project, tasks=[{"text": "hello", "meta": {"secret_source": "crm-42"}}], actor=None
    )

    body = claim_body(slot_claim_next(project=project, user=make_worker()))

    assert "crm-42" not in str(body)
    assert set(body["task"]) == {"id", "data", "pre_annotation"}


@pytest.mark.parametrize("status", ["terms_accepted", "suspended", "offboarded"])
def test_people_who_are_not_active_get_no_work(status):
    project = make_project()
    add_tasks(project, 1)

    with pytest.raises(NotQualified):
        claim(project, make_worker(status=status))


def test_a_project_that_needs_a_skill_level_refuses_people_below_it():
    skill = Skill.objects.create(slug="en-sentiment", name="English sentiment")
    project = make_project(required_skill=skill, required_level=2)
    add_tasks(project, 1)

    with pytest.raises(NotQualified):
        claim(project, make_worker())
    with pytest.raises(NotQualified):
        claim(project, make_worker(skill=skill, level=1))
    assert claim(project, make_worker(skill=skill, level=2)).state == LeaseState.ACTIVE


def test_a_paused_project_gives_no_work_and_says_so():
    project = make_project(status="paused")
    add_tasks(project, 1)

    with pytest.raises(NoWorkAvailable) as error:
        claim(project, make_worker())

    assert error.value.extra["reason"] == "project_not_active"


def test_no_work_says_when_the_rest_is_leased_by_others():
    project = make_project()
    add_tasks(project, 1)
    claim(project, make_worker())

    with pytest.raises(NoWorkAvailable) as error:
        claim(project, make_worker())

    assert error.value.extra["reason"] == "all_leased"


def test_heartbeat_extends_the_lease_and_counts_active_time_with_idle_gaps_capped():
    project = make_project(lease_seconds=600, idle_cap_seconds=60)
    add_tasks(project, 1)
    worker = make_worker()
    start = timezone.now()
    lease = claim(project, worker, now=start)

    lease_heartbeat(lease_id=lease.pk, user=worker, now=start + timedelta(seconds=30))
    beat = lease_heartbeat(lease_id=lease.pk, user=worker, now=start + timedelta(seconds=330))

    assert beat.active_seconds == 30 + 60
    assert beat.expires_at == start + timedelta(seconds=330 + 600)
    assert WorkSlot.objects.get(pk=lease.slot_id).lease_expires_at == beat.expires_at


def test_submit_stores_the_annotation_with_server_measured_active_time():
    project = make_project(idle_cap_seconds=120)
    (task_id,) = add_tasks(project, 1)
    worker = make_worker()
    start = timezone.now()
    lease = claim(project, worker, now=start)

    annotation = lease_submit(
        lease_id=lease.pk, user=worker, result={"label": "bird"}, now=start + timedelta(seconds=42)
    )

    assert annotation.result == {"label": "bird"}
    assert annotation.active_seconds == 42
    task = Task.objects.get(pk=task_id)
    assert task.status == "completed"
    assert task.result == {"label": "bird"}
    lease.refresh_from_db()
    assert lease.state == LeaseState.SUBMITTED


def test_a_result_outside_the_schema_is_refused_naming_the_field_and_nothing_is_stored():
    project = make_project()
    add_tasks(project, 1)
    worker = make_worker()
    lease = claim(project, worker)

    with pytest.raises(ValidationFailed) as error:
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "horse"})

    assert "result.label" in error.value.extra["fields"]
    assert Annotation.objects.count() == 0
    lease.refresh_from_db()
    assert lease.state == LeaseState.ACTIVE


def test_submit_after_expiry_is_refused_and_the_task_goes_back_to_the_queue():
    project = make_project(lease_seconds=60)
    add_tasks(project, 1)
    worker, other = make_worker(), make_worker()
    start = timezone.now()
    lease = claim(project, worker, now=start)

    with pytest.raises(LeaseExpired):
        lease_submit(
            lease_id=lease.pk,
            user=worker,
            result={"label": "cat"},
            now=start + timedelta(seconds=61),
        )

    lease.refresh_from_db()
    assert lease.state == LeaseState.EXPIRED
    assert Annotation.objects.count() == 0
    assert WorkSlot.objects.get(pk=lease.slot_id).state == SlotState.OPEN
    assert claim(project, other).task_id == lease.task_id


def test_a_claim_takes_over_an_expired_lease_before_the_sweep_runs():
    project = make_project(lease_seconds=60)
    add_tasks(project, 1)
    worker, other = make_worker(), make_worker()
    start = timezone.now()
    stale = claim(project, worker, now=start)

    fresh = claim(project, other, now=start + timedelta(seconds=120))

    assert fresh.task_id == stale.task_id
    stale.refresh_from_db()
    assert stale.state == LeaseState.EXPIRED
    with pytest.raises(LeaseExpired):
        lease_submit(lease_id=stale.pk, user=worker, result={"label": "cat"})


def test_the_sweep_reclaims_expired_leases():
    project = make_project(lease_seconds=60)
    add_tasks(project, 3)
    workers = [make_worker() for _ in range(3)]
    start = timezone.now()
    leases = [claim(project, w, now=start) for w in workers]
    lease_heartbeat(lease_id=leases[0].pk, user=workers[0], now=start + timedelta(seconds=50))

    reclaimed = leases_reclaim_expired(now=start + timedelta(seconds=90))

    assert reclaimed == 2
    states = {lease.pk: Lease.objects.get(pk=lease.pk).state for lease in leases}
    assert states == {leases[0].pk: "active", leases[1].pk: "expired", leases[2].pk: "expired"}
    assert WorkSlot.objects.filter(state=SlotState.OPEN).count() == 2


def test_heartbeat_on_an_expired_lease_is_refused():
    project = make_project(lease_seconds=60)
    add_tasks(project, 1)
    worker = make_worker()
    start = timezone.now()
    lease = claim(project, worker, now=start)

    with pytest.raises(LeaseExpired):
        lease_heartbeat(lease_id=lease.pk, user=worker, now=start + timedelta(seconds=61))


def test_skip_returns_the_slot_to_others_and_never_offers_the_task_again():
    project = make_project(queue_order="oldest")
    skipped_task, other_task = add_tasks(project, 2)
    worker, colleague = make_worker(), make_worker()
    lease = claim(project, worker)
    assert lease.task_id == skipped_task

    lease_skip(lease_id=lease.pk, user=worker, reason="Text is in a language I do not read")

    lease.refresh_from_db()
    assert lease.state == LeaseState.SKIPPED
    assert lease.skip_reason == "Text is in a language I do not read"
    assert claim(project, worker).task_id == other_task
    assert claim(project, colleague).task_id == skipped_task


def test_release_returns_the_task_at_once_and_it_may_come_back():
    project = make_project()
    (task_id,) = add_tasks(project, 1)
    worker = make_worker()
    lease = claim(project, worker)

    lease_release(lease_id=lease.pk, user=worker)

    assert not TaskParticipation.objects.filter(task_id=task_id, user=worker).exists()
    assert claim(project, worker).task_id == task_id


def test_a_submitted_lease_cannot_be_submitted_again():
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2)
    add_tasks(project, 1)
    worker = make_worker()
    lease = claim(project, worker)
    lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    with pytest.raises(LeaseNotActive):
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "dog"})


def test_consensus_aggregates_by_majority_when_the_overlap_is_reached():
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3)
    (task_id,) = add_tasks(project, 1)

    for label in ["cat", "dog", "cat"]:
        worker = make_worker()
        lease = claim(project, worker)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": label})

    task = Task.objects.get(pk=task_id)
    assert task.status == "completed"
    assert task.result == {"label": "cat"}
    assert task.agreement == pytest.approx(2 / 3)
    assert not task.is_tie


def test_a_consensus_tie_is_reported_as_a_tie():
    project = make_project(
        pipeline="consensus", overlap=2, max_overlap=2, tie_rule="leave_unlabelled"
    )
    (task_id,) = add_tasks(project, 1)

    for label in ["cat", "dog"]:
        worker = make_worker()
        lease = claim(project, worker)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": label})

    task = Task.objects.get(pk=task_id)
    assert task.is_tie
    assert task.result == {"label": None, "tied": ["cat", "dog"]}


def test_collection_completes_a_task_after_its_overlap_and_accepts_each_submission():
    project = make_project(pipeline="collection", overlap=2, max_overlap=2)
    (task_id,) = add_tasks(project, 1)

    for label in ["cat", "bird"]:
        worker = make_worker()
        lease = claim(project, worker)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": label})

    assert Task.objects.get(pk=task_id).status == "completed"
    assert set(Annotation.objects.values_list("status", flat=True)) == {"accepted"}


def test_project_counters_stay_exact():
    project = make_project()
    add_tasks(project, 3)
    worker = make_worker()

    for _ in range(2):
        lease = claim(project, worker)
        lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    project.refresh_from_db()
    assert (project.tasks_total, project.tasks_completed, project.annotations_total) == (3, 2, 2)
    assert (
        project.tasks_completed == Task.objects.filter(project=project, status="completed").count()
    )


def test_claim_and_submit_do_a_constant_number_of_queries_whatever_the_queue_size():
    small, large = make_project(), make_project()
    add_tasks(small, 3)
    add_tasks(large, 300)
    counts = {}
    for name, project in (("small", small), ("large", large)):
        worker = make_worker()
        with CaptureQueriesContext(connection) as claimed:
            lease = claim(project, worker)
        with CaptureQueriesContext(connection) as submitted:
            lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
        counts[name] = (len(claimed), len(submitted))

    assert counts["small"] == counts["large"]


def test_prefetch_reserves_one_task_beyond_the_limit_and_no_more():
    project = make_project()
    add_tasks(project, 4)
    worker = make_worker()
    current = claim(project, worker)

    ahead = slot_claim_next(project=project, user=worker, prefetch=True)
    again = slot_claim_next(project=project, user=worker, prefetch=True)
    plain = slot_claim_next(project=project, user=worker)

    assert ahead.lease.pk != current.pk
    assert ahead.lease.task_id != current.task_id
    assert again.lease.pk == ahead.lease.pk and again.resumed
    assert plain.lease.pk == current.pk and plain.resumed
    assert Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).count() == 2


def test_a_resumed_task_is_credited_from_its_resume_not_for_the_time_it_sat_reserved():
    project = make_project(idle_cap_seconds=120)
    add_tasks(project, 2)
    worker = make_worker()
    start = timezone.now()
    lease = claim(project, worker, now=start)

    resumed = slot_claim_next(project=project, user=worker, now=start + timedelta(seconds=120))
    annotation = lease_submit(
        lease_id=lease.pk, user=worker, result={"label": "cat"}, now=start + timedelta(seconds=121)
    )

    assert resumed.resumed and resumed.lease.pk == lease.pk
    assert annotation.active_seconds == 1


def test_a_resumed_task_keeps_the_active_time_counted_before_it_was_left():
    project = make_project(idle_cap_seconds=120)
    add_tasks(project, 1)
    worker = make_worker()
    start = timezone.now()
    lease = claim(project, worker, now=start)
    lease_heartbeat(lease_id=lease.pk, user=worker, now=start + timedelta(seconds=40))

    slot_claim_next(project=project, user=worker, now=start + timedelta(seconds=400))
    annotation = lease_submit(
        lease_id=lease.pk, user=worker, result={"label": "cat"}, now=start + timedelta(seconds=410)
    )

    assert annotation.active_seconds == 40 + 10


def test_releasing_the_current_task_starts_the_clock_of_the_one_held_in_reserve():
    project = make_project(idle_cap_seconds=120)
    add_tasks(project, 3)
    worker = make_worker()
    start = timezone.now()
    current = claim(project, worker, now=start)
    ahead = slot_claim_next(project=project, user=worker, prefetch=True, now=start).lease

    lease_release(lease_id=current.pk, user=worker, now=start + timedelta(seconds=100))
    annotation = lease_submit(
        lease_id=ahead.pk, user=worker, result={"label": "dog"}, now=start + timedelta(seconds=130)
    )

    assert annotation.active_seconds == 30


def test_releasing_the_task_held_in_reserve_keeps_the_clock_of_the_current_one():
    project = make_project(idle_cap_seconds=120)
    add_tasks(project, 3)
    worker = make_worker()
    start = timezone.now()
    current = claim(project, worker, now=start)
    ahead = slot_claim_next(project=project, user=worker, prefetch=True, now=start).lease
    lease_heartbeat(lease_id=current.pk, user=worker, now=start + timedelta(seconds=50))

    lease_release(lease_id=ahead.pk, user=worker, now=start + timedelta(seconds=60))
    annotation = lease_submit(
        lease_id=current.pk, user=worker, result={"label": "dog"}, now=start + timedelta(seconds=80)
    )

    assert annotation.active_seconds == 80


def test_starting_the_task_held_in_reserve_after_the_current_one_ran_out_credits_nothing_before():
    project = make_project(lease_seconds=60, idle_cap_seconds=120)
    add_tasks(project, 3)
    worker = make_worker()
    start = timezone.now()
    claim(project, worker, now=start)  # runs out at +60 s, unseen by the server
    ahead = slot_claim_next(project=project, user=worker, prefetch=True, now=start).lease

    started = lease_start(lease_id=ahead.pk, user=worker, now=start + timedelta(seconds=55))
    annotation = lease_submit(
        lease_id=ahead.pk, user=worker, result={"label": "dog"}, now=start + timedelta(seconds=65)
    )

    assert started.active_seconds == 0
    assert started.expires_at == start + timedelta(seconds=55 + 60)
    assert annotation.active_seconds == 10


def test_starting_an_expired_reserved_task_is_refused_and_returns_it_to_the_queue():
    project = make_project(lease_seconds=60)
    add_tasks(project, 3)
    worker = make_worker()
    start = timezone.now()
    claim(project, worker, now=start)
    ahead = slot_claim_next(project=project, user=worker, prefetch=True, now=start).lease

    with pytest.raises(LeaseExpired):
        lease_start(lease_id=ahead.pk, user=worker, now=start + timedelta(seconds=61))

    assert Lease.objects.get(pk=ahead.pk).state == LeaseState.EXPIRED
    assert WorkSlot.objects.get(pk=ahead.slot_id).state == SlotState.OPEN


def test_time_spent_on_the_current_task_is_not_counted_again_on_the_prefetched_one():
    project = make_project(idle_cap_seconds=120)
    add_tasks(project, 3)
    worker = make_worker()
    start = timezone.now()
    current = claim(project, worker, now=start)
    ahead = slot_claim_next(project=project, user=worker, prefetch=True, now=start).lease

    lease_submit(
        lease_id=current.pk,
        user=worker,
        result={"label": "cat"},
        now=start + timedelta(seconds=100),
    )
    annotation = lease_submit(
        lease_id=ahead.pk, user=worker, result={"label": "dog"}, now=start + timedelta(seconds=130)
    )

    assert annotation.active_seconds == 30
