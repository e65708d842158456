"""Serving skill checks: the draw, the server's time limit, scoring and training feedback, and
training and test projects kept out of the ordinary queue."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, ValidationFailed
from labeling import policy
from labeling.errors import NoWorkAvailable
from labeling.models import CheckAnswer, Lease
from labeling.services.checks import (
    AttemptTimedOut,
    check_attempt_abandon,
    check_attempt_begin,
    check_attempts_time_out,
    check_item_answer,
    check_item_next,
    items_draw,
)
from labeling.services.claim import slot_claim_next
from labeling.services.projects import project_create
from tests.labeling.factories import add_tasks, make_check, make_worker
from workforce.models import AttemptState, SkillLevel

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)


def answer_all(attempt, labels, now):
    """Answer the attempt's items in serving order with `labels` (a dict by task id or a label)."""
    outcome = None
    for task_id in list(attempt.item_ids):
        label = labels[task_id] if isinstance(labels, dict) else labels
        outcome = check_item_answer(
            attempt=attempt, task_id=task_id, result={"label": label}, now=now
        )
    return outcome


@pytest.mark.usefixtures("queue_writer")
@pytest.mark.parametrize("purpose", ["training", "test"])
def test_a_training_or_test_project_hands_out_nothing_through_the_claim(purpose):
    _, project, _ = make_check(purpose)
    add_tasks(project, 2)  # ordinary tasks with open slots: the queue would have work
    worker = make_worker()

    with pytest.raises(NoWorkAvailable) as refused:
        slot_claim_next(project=project, user=worker)

    assert refused.value.extra["reason"] == "project_not_active"
    assert not Lease.objects.filter(user=worker).exists()
    assert project not in policy.projects_workable_by(worker)


def test_seen_items_are_not_redrawn_while_unseen_remain():
    check, _, ids = make_check(
        "training", ("cat", "dog", "bird", "cat", "dog"), items_per_attempt=2
    )
    worker = make_worker()
    drawn = []

    for n in range(3):
        attempt = check_attempt_begin(
            user=worker, check=check, now=T0 + timedelta(hours=n), rng=random.Random(n)
        )
        drawn.append(list(attempt.item_ids))
        check_attempt_abandon(attempt=attempt, now=T0 + timedelta(hours=n, minutes=1))

    assert len(set(drawn[0]) | set(drawn[1])) == 4  # the second attempt saw nothing of the first
    assert set(ids) - set(drawn[0]) - set(drawn[1]) <= set(drawn[2])  # the last unseen one first
    assert len(drawn[2]) == 2 and len(set(drawn[2])) == 2


def test_a_stratified_draw_gives_each_label_its_share_of_the_bank():
    bank = {i: {"label": "cat"} for i in range(6)}
    bank |= {i: {"label": "dog"} for i in range(6, 9)}
    bank |= {i: {"label": "bird"} for i in range(9, 12)}

    drawn = items_draw(
        bank=bank,
        seen=set(),
        count=4,
        stratify=True,
        task_type="single_label",
        rng=random.Random(7),
    )

    labels = sorted(bank[i]["label"] for i in drawn)
    assert labels == ["bird", "cat", "cat", "dog"]


def test_an_item_serves_the_task_data_and_never_its_answer():
    check, _, _ = make_check("test", time_limit_seconds=600)
    worker = make_worker()
    attempt = check_attempt_begin(user=worker, check=check, now=T0)

    item = check_item_next(attempt=attempt, now=T0 + timedelta(seconds=5))

    assert item is not None
    assert item.task.pk == attempt.item_ids[0]
    assert item.position == 1 and item.total == 4
    assert "label" not in item.task.data


def test_an_answer_after_the_deadline_is_refused_and_the_attempt_times_out():
    check, _, _ = make_check("test", ("cat", "dog"), time_limit_seconds=60)
    worker = make_worker()
    attempt = check_attempt_begin(user=worker, check=check, now=T0)
    first, second = attempt.item_ids
    keys = dict(zip(sorted(attempt.item_ids), ("cat", "dog"), strict=True))
    check_item_answer(
        attempt=attempt,
        task_id=first,
        result={"label": keys[first]},
        now=T0 + timedelta(seconds=59),
    )

    with pytest.raises(AttemptTimedOut):
        check_item_answer(
            attempt=attempt,
            task_id=second,
            result={"label": keys[second]},
            now=T0 + timedelta(seconds=60),
        )

    attempt.refresh_from_db()
    assert attempt.state == AttemptState.TIMED_OUT
    assert attempt.score == 0.5  # the unanswered item scores 0
    assert CheckAnswer.objects.filter(attempt=attempt).count() == 1
    assert not SkillLevel.objects.filter(user=worker).exists()
    with pytest.raises(Conflict):
        check_item_next(attempt=attempt, now=T0 + timedelta(seconds=61))


def test_the_sweep_times_out_attempts_past_their_deadline_only():
    check, _, _ = make_check("test", time_limit_seconds=60)
    late, on_time = make_worker(), make_worker()
    old = check_attempt_begin(user=late, check=check, now=T0)
    fresh = check_attempt_begin(user=on_time, check=check, now=T0 + timedelta(seconds=30))

    closed = check_attempts_time_out(now=T0 + timedelta(seconds=61))

    assert closed == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.state, old.score) == (AttemptState.TIMED_OUT, 0.0)
    assert fresh.state == AttemptState.OPEN
    assert check_attempts_time_out(now=T0 + timedelta(seconds=61)) == 0


def test_a_test_passed_by_its_answers_grants_the_level_of_the_map():
    check, _, ids = make_check("test", ("cat", "dog", "bird", "cat"))
    worker = make_worker()
    keys = dict(zip(ids, ("cat", "dog", "bird", "cat"), strict=True))
    attempt = check_attempt_begin(user=worker, check=check, now=T0)

    outcome = answer_all(attempt, keys, T0 + timedelta(seconds=30))

    assert outcome.feedback is None  # a test says nothing about correctness
    assert outcome.attempt.state == AttemptState.PASSED
    assert outcome.attempt.score == 1.0
    assert SkillLevel.objects.get(user=worker, skill=check.skill).level == 2


def test_training_answers_come_back_with_the_expected_answer_and_its_explanation():
    check, _, ids = make_check("training", ("cat", "dog"), pass_mark=0.5)
    worker = make_worker()
    attempt = check_attempt_begin(user=worker, check=check, now=T0)
    first = attempt.item_ids[0]
    expected = "cat" if first == ids[0] else "dog"

    outcome = check_item_answer(
        attempt=attempt, task_id=first, result={"label": "bird"}, now=T0 + timedelta(seconds=5)
    )

    assert outcome.feedback == {
        "score": 0.0,
        "correct": False,
        "expected": {"label": expected},
        "explanation": f"Because {expected} {ids.index(first)}.",
    }
    assert outcome.attempt.state == AttemptState.OPEN


def test_an_item_is_answered_once_and_only_items_of_the_attempt():
    check, project, _ = make_check("training", ("cat", "dog"))
    other = add_tasks(project, 3)[-1]
    worker = make_worker()
    attempt = check_attempt_begin(user=worker, check=check, now=T0)
    first = attempt.item_ids[0]
    check_item_answer(attempt=attempt, task_id=first, result={"label": "cat"}, now=T0)

    with pytest.raises(Conflict):
        check_item_answer(attempt=attempt, task_id=first, result={"label": "dog"}, now=T0)
    with pytest.raises(ValidationFailed) as not_an_item:
        check_item_answer(attempt=attempt, task_id=other, result={"label": "dog"}, now=T0)
    with pytest.raises(ValidationFailed) as bad_label:
        check_item_answer(
            attempt=attempt, task_id=attempt.item_ids[1], result={"label": "cow"}, now=T0
        )

    assert "task_id" in not_an_item.value.extra["fields"]
    assert bad_label.value.extra["fields"]


def test_an_abandoned_attempt_counts_with_unanswered_items_at_zero():
    check, _, ids = make_check("training", ("cat", "dog"), max_attempts=1)
    worker = make_worker()
    attempt = check_attempt_begin(user=worker, check=check, now=T0)
    keys = dict(zip(ids, ("cat", "dog"), strict=True))
    first = attempt.item_ids[0]
    check_item_answer(attempt=attempt, task_id=first, result={"label": keys[first]}, now=T0)

    abandoned = check_attempt_abandon(attempt=attempt, now=T0 + timedelta(seconds=9))

    assert (abandoned.state, abandoned.score) == (AttemptState.ABANDONED, 0.5)
    with pytest.raises(Conflict) as used_up:
        check_attempt_begin(user=worker, check=check, now=T0 + timedelta(days=1))
    assert used_up.value.code == "check_attempts_used"


def test_the_beat_task_times_out_attempts_past_their_deadline():
    from labeling.tasks import check_attempts_time_out as task

    check, _, _ = make_check("test", time_limit_seconds=60)
    attempt = check_attempt_begin(
        user=make_worker(), check=check, now=timezone.now() - timedelta(minutes=5)
    )

    task.delay()

    attempt.refresh_from_db()
    assert attempt.state == AttemptState.TIMED_OUT


def test_a_check_s_items_live_in_one_project():
    check, project, _ = make_check("test")

    with pytest.raises(ValidationFailed) as refused:
        project_create(
            customer=project.customer,
            name="Second bank",
            actor=None,
            task_type="single_label",
            labels=["cat", "dog"],
            purpose="test",
            skill_check=check,
        )

    assert "already holds" in refused.value.extra["fields"]["skill_check"][0]
