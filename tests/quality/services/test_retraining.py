"""A manager sends a person back to training: the one rule probation's floor uses too (a
"require retraining" action), scoped to the manager's teams, notified, audited, and the claim
refuses the person work until the action is lifted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connections

from accounts.models import Role
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.models import AuditEvent
from kit.intervals import wilson_interval
from labeling.errors import NotQualified
from labeling.services.claim import slot_claim_next
from labeling.services.standing import RETRAINING_REFUSAL
from quality.models import RuleAction, RuleActionKind
from quality.services import retraining as retraining_services
from quality.services import standing as standing_services
from quality.services.actions import rule_action_lift
from quality.services.retraining import MANAGER_RULE_NAME, RETRAIN_REASON_MAX, person_retrain
from quality.services.standing import PROBATION_RULE_NAME, probation_evaluate
from tests.factories import make_team, make_user
from tests.labeling.factories import add_tasks, make_project, make_worker
from tests.quality.factories import gold_record, make_manager, managed, state_of
from workforce.models import Notification, StandingDecision, StandingDecisionKind

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def manager():
    return make_manager()


@pytest.fixture
def person(manager):
    worker = make_worker()
    managed(manager, worker)
    return worker


def test_a_manager_sends_a_person_back_to_training_in_a_project(manager, person, project):
    action = person_retrain(
        manager=manager, user=person, project_id=project.pk, reason="Boxes too loose."
    )

    assert action.kind == RuleActionKind.REQUIRE_RETRAINING
    assert action.rule.name == MANAGER_RULE_NAME
    assert action.evidence["manager"] == {
        "id": manager.pk,
        "reason": "Boxes too loose.",
        "project": project.pk,
    }
    assert state_of(person, project).needs_retraining is True
    assert [entry["project"] for entry in action.taken] == [project.pk]


def test_the_person_is_told_why(manager, person, project):
    person_retrain(manager=manager, user=person, project_id=project.pk, reason="Boxes too loose.")

    told = Notification.objects.get(user=person, kind="training_required")
    assert "Boxes too loose." in told.body
    assert told.url == "/quality/mine/"


def test_it_is_audited_and_recorded_as_the_managers_standing_decision(manager, person, project):
    action = person_retrain(manager=manager, user=person, project_id=project.pk, reason="Why.")

    event = AuditEvent.objects.get(action="rule_action.taken", target_id=str(action.pk))
    assert event.actor == manager
    assert event.after["note"] == "Your manager says: Why."
    decision = StandingDecision.objects.get(user=person)
    assert decision.kind == StandingDecisionKind.RETRAINING
    assert decision.applied_by == manager
    assert decision.evidence["rule_action"] == action.pk
    assert decision.evidence["reason"] == "Why."


def test_their_claims_are_refused_until_the_action_is_lifted(manager, person, project):
    add_tasks(project, 2)
    person_retrain(manager=manager, user=person, project_id=project.pk, reason="Why.")

    with pytest.raises(NotQualified) as refused:
        slot_claim_next(project=project, user=person)
    assert refused.value.message == RETRAINING_REFUSAL

    rule_action_lift(action=RuleAction.objects.get(user=person), manager=manager, note="Done.")
    assert slot_claim_next(project=project, user=person).lease.user_id == person.pk


def test_other_projects_are_untouched_by_a_one_project_retraining(manager, person):
    first, second = make_project(gold_warmup=0), make_project(gold_warmup=0)
    add_tasks(second, 1)

    person_retrain(manager=manager, user=person, project_id=first.pk, reason="Why.")

    assert slot_claim_next(project=second, user=person).lease.user_id == person.pk


def test_every_project_means_each_project_they_have_a_standing_in(manager, person):
    first, second = make_project(gold_warmup=0), make_project(gold_warmup=0)
    for project in (first, second):
        add_tasks(project, 1)
        slot_claim_next(project=project, user=person)  # a standing in each

    action = person_retrain(manager=manager, user=person, project_id=None, reason="Why.")

    assert sorted(entry["project"] for entry in action.taken) == sorted([first.pk, second.pk])
    assert state_of(person, first).needs_retraining and state_of(person, second).needs_retraining


def test_probation_and_a_manager_send_back_through_the_one_service(
    manager, person, project, monkeypatch
):
    calls = []
    real = standing_services.person_send_back_to_training

    def spy(**kwargs):
        calls.append(kwargs["rule"].name)
        return real(**kwargs)

    monkeypatch.setattr(standing_services, "person_send_back_to_training", spy)
    monkeypatch.setattr(retraining_services, "person_send_back_to_training", spy)
    newcomer = make_worker(status="probation")
    assert wilson_interval(23, 50).high < 0.6
    gold_record(project, newcomer, [1.0] * 23 + [0.0] * 27, now=NOW)

    probation_evaluate(user=newcomer, now=NOW, project_id=project.pk)
    person_retrain(manager=manager, user=person, project_id=project.pk, reason="Why.")

    assert calls == [PROBATION_RULE_NAME, MANAGER_RULE_NAME]
    for someone in (newcomer, person):
        assert state_of(someone, project).needs_retraining is True
        assert Notification.objects.filter(user=someone, kind="training_required").exists()


def test_a_probation_retraining_in_force_does_not_stop_a_managers(manager, project):
    newcomer = make_worker(status="probation")
    managed(manager, newcomer)
    gold_record(project, newcomer, [1.0] * 23 + [0.0] * 27, now=NOW)
    probation_evaluate(user=newcomer, now=NOW, project_id=project.pk)

    person_retrain(manager=manager, user=newcomer, project_id=project.pk, reason="Also me.")

    assert RuleAction.objects.filter(user=newcomer).count() == 2


def test_a_second_managers_retraining_in_force_is_refused(manager, person, project):
    person_retrain(manager=manager, user=person, project_id=project.pk, reason="Why.")

    with pytest.raises(Conflict) as refused:
        person_retrain(manager=manager, user=person, project_id=project.pk, reason="Again.")

    assert refused.value.code == "already_retraining"
    assert RuleAction.objects.filter(user=person).count() == 1


def test_a_manager_cannot_retrain_someone_outside_their_teams(manager, project):
    stranger = make_worker()
    make_team("Elsewhere", members=[stranger])

    with pytest.raises(NotFound):
        person_retrain(manager=manager, user=stranger, project_id=project.pk, reason="Why.")

    assert not RuleAction.objects.filter(user=stranger).exists()
    assert not Notification.objects.filter(user=stranger, kind="training_required").exists()


def test_an_administrator_retrains_anyone(project):
    admin = make_user(Role.ADMIN, mfa=True)
    stranger = make_worker()

    person_retrain(manager=admin, user=stranger, project_id=project.pk, reason="Why.")

    assert state_of(stranger, project).needs_retraining is True


def test_an_annotator_cannot_retrain_anyone(person, project):
    with pytest.raises(PermissionDenied):
        person_retrain(
            manager=make_user(Role.ANNOTATOR), user=person, project_id=project.pk, reason="Why."
        )


@pytest.mark.parametrize(
    ("reason", "field"),
    [("", "reason"), ("   ", "reason"), ("x" * (RETRAIN_REASON_MAX + 1), "reason")],
)
def test_a_missing_or_long_reason_is_refused_naming_it(manager, person, project, reason, field):
    with pytest.raises(ValidationFailed) as refused:
        person_retrain(manager=manager, user=person, project_id=project.pk, reason=reason)

    assert list(refused.value.extra["fields"]) == [field]
    assert not RuleAction.objects.exists()


def test_a_project_the_manager_does_not_manage_is_refused_naming_it(manager, person):
    hidden = make_project()
    other_team = make_team("Night")
    hidden.teams.add(other_team)

    with pytest.raises(ValidationFailed) as refused:
        person_retrain(manager=manager, user=person, project_id=hidden.pk, reason="Why.")

    assert list(refused.value.extra["fields"]) == ["project"]


def test_every_project_for_someone_who_never_worked_is_refused_naming_project(manager, person):
    with pytest.raises(ValidationFailed) as refused:
        person_retrain(manager=manager, user=person, project_id=None, reason="Why.")

    assert list(refused.value.extra["fields"]) == ["project"]
    assert not RuleAction.objects.exists()


def test_the_person_reads_the_managers_reason_on_the_action_and_may_appeal_it(
    client, manager, person, project
):
    action = person_retrain(manager=manager, user=person, project_id=project.pk, reason="Loose.")
    client.force_login(person)

    page = client.get(f"/quality/actions/{action.pk}/").content.decode()
    filed = client.post(f"/quality/actions/{action.pk}/appeal/", {"reason": "I retrained."})

    assert "A manager&#x27;s decision: “Loose.”" in page
    assert "Measured" not in page
    assert filed.status_code == 302
    assert action.__class__.objects.get(pk=action.pk).appeal.reason == "I retrained."


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres  # row locking and the one-in-force constraint under real concurrency
def test_managers_retraining_one_person_at_once_take_one_action():
    manager, other = make_manager(), make_user(Role.ADMIN, mfa=True)
    project = make_project()
    person = make_worker()
    managed(manager, person)
    outcomes, errors = [], []
    start = threading.Barrier(6)

    def retrain(who):
        try:
            start.wait()
            person_retrain(manager=who, user=person, project_id=project.pk, reason="At once.")
            outcomes.append("taken")
        except Conflict as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retrain, args=(m,)) for m in [manager, other] * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(outcomes) == ["already_retraining"] * 5 + ["taken"]
    assert RuleAction.objects.filter(user=person).count() == 1
    assert StandingDecision.objects.filter(user=person).count() == 1
    assert Notification.objects.filter(user=person, kind="training_required").count() == 1
