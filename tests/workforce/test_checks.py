"""Skill checks in workforce: their rules, attempts, cooldown and the score-to-level map."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Role
from core.audit import AuditEvent
from core.errors import Conflict, PermissionDenied, ValidationFailed
from tests.factories import make_user
from workforce.models import AnnotatorProfile, AttemptState, CheckAttempt, SkillCheck, SkillLevel
from workforce.selectors.checks import checks_for_person
from workforce.services import annotator_status_set, skill_create, skill_level_grant
from workforce.services.checks import (
    attempt_abandon,
    attempt_finish,
    attempt_start,
    skill_check_create,
    skill_check_update,
)

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)
LEVELS = [[0.8, 1], [0.92, 2]]


@pytest.fixture
def skill():
    return skill_create(slug="sentiment", name="Sentiment", actor=None)


@pytest.fixture
def annotator():
    return make_user(Role.ANNOTATOR)


def a_test(skill, **rules):
    rules.setdefault("level_map", LEVELS)
    return skill_check_create(actor=None, skill=skill, kind="test", name="Sentiment test", **rules)


def test_a_manager_creates_a_check_and_it_is_audited(skill):
    manager = make_user(Role.MANAGER)

    check = skill_check_create(
        actor=manager, skill=skill, kind="test", name=" Test ", level_map=[[0.8, 1], [0.9, 3]]
    )

    assert check.name == "Test"
    assert check.level_map == [[0.8, 1], [0.9, 3]]
    assert AuditEvent.objects.filter(action="check.created", actor=manager).exists()


def test_an_annotator_may_not_create_a_check(skill, annotator):
    with pytest.raises(PermissionDenied):
        skill_check_create(actor=annotator, skill=skill, kind="training", name="Mine")


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"level_map": [[0.92, 2], [0.8, 1]]}, "level_map"),  # not sorted
        ({"level_map": [[0.8, 2], [0.9, 1]]}, "level_map"),  # a higher score, a lower level
        ({"level_map": [[1.2, 1]]}, "level_map"),
        ({"level_map": [[0.8, 11]]}, "level_map"),
        ({"level_map": []}, "level_map"),  # a test needs one
        ({"pass_mark": 1.5}, "pass_mark"),
        ({"items_per_attempt": 0}, "items_per_attempt"),
        ({"cooldown_seconds": -1}, "cooldown_seconds"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"time_limit_seconds": 5}, "time_limit_seconds"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(skill, rules, field):
    with pytest.raises(ValidationFailed) as refused:
        a_test(skill, **rules)

    assert field in refused.value.extra["fields"]


def test_a_check_s_kind_is_fixed_once_attempted(skill, annotator):
    check = a_test(skill)
    attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)

    with pytest.raises(ValidationFailed) as refused:
        skill_check_update(check=check, actor=None, kind="training", level_map=[])

    assert "kind" in refused.value.extra["fields"]


def test_an_attempt_gets_its_number_and_its_deadline(skill, annotator):
    check = a_test(skill, time_limit_seconds=600)

    attempt = attempt_start(user=annotator, check=check, drawn_item_ids=[3, 1, 2], now=T0)

    assert (attempt.number, attempt.item_ids) == (1, [3, 1, 2])
    assert attempt.deadline == T0 + timedelta(seconds=600)


def test_a_second_start_returns_the_open_attempt(skill, annotator):
    check = a_test(skill)
    first = attempt_start(user=annotator, check=check, drawn_item_ids=[1, 2], now=T0)

    again = attempt_start(user=annotator, check=check, drawn_item_ids=[2, 1], now=T0)

    assert again.pk == first.pk and again.item_ids == [1, 2]


def test_the_cooldown_refusal_says_when_the_next_attempt_is_allowed(skill, annotator):
    check = a_test(skill, cooldown_seconds=3600)
    attempt = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)
    attempt_finish(attempt=attempt, score=0.1, now=T0 + timedelta(minutes=5))

    with pytest.raises(Conflict) as refused:
        attempt_start(
            user=annotator, check=check, drawn_item_ids=[1], now=T0 + timedelta(minutes=64)
        )

    allowed = T0 + timedelta(minutes=65)
    assert refused.value.code == "check_cooldown"
    assert refused.value.extra["next_attempt_at"] == allowed.isoformat()
    assert f"{allowed:%H:%M}" in refused.value.message
    later = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=allowed)
    assert later.number == 2


def test_abandoned_attempts_count_towards_the_maximum(skill, annotator):
    check = a_test(skill, max_attempts=2)
    for n in range(2):
        attempt = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)
        attempt_abandon(attempt=attempt, score=0.0, now=T0 + timedelta(seconds=n + 1))

    with pytest.raises(Conflict) as refused:
        attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0 + timedelta(days=9))

    assert refused.value.code == "check_attempts_used"


def test_suspended_people_take_no_checks_but_applicants_do(skill):
    applicant, suspended = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    profile = AnnotatorProfile.objects.get(user=suspended)
    annotator_status_set(profile=profile, status="suspended", actor=None)
    check = a_test(skill)

    assert attempt_start(user=applicant, check=check, drawn_item_ids=[1], now=T0).number == 1
    with pytest.raises(PermissionDenied):
        attempt_start(user=suspended, check=check, drawn_item_ids=[1], now=T0)


@pytest.mark.parametrize(
    ("score", "state", "level"),
    [
        (0.0, AttemptState.FAILED, None),
        (0.7999, AttemptState.FAILED, None),
        (0.8, AttemptState.PASSED, 1),
        (0.9199, AttemptState.PASSED, 1),
        (0.92, AttemptState.PASSED, 2),
        (1.0, AttemptState.PASSED, 2),
    ],
)
def test_the_score_to_level_map_grants_the_level_of_the_highest_threshold_reached(
    skill, annotator, score, state, level
):
    check = a_test(skill)
    attempt = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)

    finished = attempt_finish(attempt=attempt, score=score, now=T0 + timedelta(seconds=9))

    assert (finished.state, finished.level_granted) == (state, level)
    held = SkillLevel.objects.filter(user=annotator, skill=skill).values_list("level", flat=True)
    assert list(held) == ([level] if level else [])


def test_a_test_never_lowers_a_higher_level_already_held(skill, annotator):
    skill_level_grant(user=annotator, skill=skill, level=3, actor=None)
    check = a_test(skill)
    attempt = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)

    finished = attempt_finish(attempt=attempt, score=0.85, now=T0)

    assert finished.level_granted == 1
    assert SkillLevel.objects.get(user=annotator, skill=skill).level == 3


def test_training_passes_at_the_pass_mark(skill, annotator):
    check = skill_check_create(actor=None, skill=skill, kind="training", name="T", pass_mark=0.75)
    low = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)
    assert attempt_finish(attempt=low, score=0.74, now=T0).state == AttemptState.FAILED
    high = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)

    assert attempt_finish(attempt=high, score=0.75, now=T0).state == AttemptState.PASSED
    assert not SkillLevel.objects.filter(user=annotator).exists()


def test_the_checks_a_person_can_take_show_attempts_best_score_and_next_time(skill, annotator):
    check = a_test(skill, max_attempts=3, cooldown_seconds=600)
    attempt = attempt_start(user=annotator, check=check, drawn_item_ids=[1], now=T0)
    attempt_finish(attempt=attempt, score=0.5, now=T0)

    (row,) = checks_for_person(user=annotator, now=T0 + timedelta(seconds=60))

    assert (row.attempts_used, row.attempts_left, row.best_score) == (1, 2, 0.5)
    assert row.next_attempt_at == T0 + timedelta(seconds=600)
    assert not row.may_start and not row.is_passed


# --- Two tabs starting at once -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_starts_at_once_open_one_attempt(skill):
    annotator = make_user(Role.ANNOTATOR)
    check = a_test(skill, max_attempts=1)
    first_started, first_may_commit = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first_tab() -> None:
        try:
            with transaction.atomic():
                results["first"] = attempt_start(
                    user=annotator, check=check, drawn_item_ids=[1], now=T0
                ).pk
                first_started.set()
                first_may_commit.wait(10)
        except Exception as exc:
            results["first"] = exc
            first_started.set()
        finally:
            connection.close()

    def second_tab() -> None:
        try:
            results["second"] = attempt_start(
                user=annotator, check=check, drawn_item_ids=[2], now=T0
            ).pk
        except Exception as exc:
            results["second"] = exc
        finally:
            connection.close()

    one = threading.Thread(target=first_tab)
    one.start()
    first_started.wait(10)
    two = threading.Thread(target=second_tab)
    two.start()
    two.join(1)  # it waits for the first tab's lock (or, without it, reads before its commit)
    first_may_commit.set()
    one.join(10)
    two.join(10)

    assert isinstance(results["first"], int), results
    assert results["second"] == results["first"], results
    assert CheckAttempt.objects.filter(user=annotator).count() == 1


# --- Managers' pages -----------------------------------------------------------------------------


def test_a_manager_creates_and_edits_a_check_in_the_portal(client, skill):
    client.force_login(make_user(Role.MANAGER, mfa=True))
    form = {
        "skill": skill.slug,
        "kind": "test",
        "name": "Sentiment test",
        "pass_mark": "0.8",
        "cooldown_seconds": "0",
        "level_map": "[[0.8, 1]]",
        "is_active": "on",
    }

    created = client.post("/checks/manage/", form)
    check = SkillCheck.objects.get(name="Sentiment test")
    refused = client.post(
        f"/checks/{check.pk}/edit/", {**form, "level_map": "[[0.9, 2], [0.8, 1]]"}
    )
    edited = client.post(f"/checks/{check.pk}/edit/", {**form, "max_attempts": "2"})

    assert created.status_code == 302
    assert refused.status_code == 200 and "sort the map" in refused.content.decode()
    assert edited.status_code == 302
    check.refresh_from_db()
    assert (check.level_map, check.max_attempts) == ([[0.8, 1]], 2)


def test_an_annotator_may_not_open_the_managers_check_pages(client):
    client.force_login(make_user(Role.ANNOTATOR))

    assert client.get("/checks/manage/").status_code == 403
