"""Ending rule actions: expiry, appeals and their decisions, and lifting."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from quality.services.actions import appeal_decide, rule_action_appeal, rule_action_lift
from quality.services.evaluation import rules_evaluate, rules_sweep
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    audit_actions,
    gold_record,
    managed,
    spam_rule,
    state_of,
    status_of,
)
from workforce.models import SkillLevel
from workforce.selectors import worker_eligibility
from workforce.services import skill_create

pytestmark = pytest.mark.django_db


def test_a_timed_action_expires_in_the_sweep_and_restores(manager, project):
    spammer = make_worker()
    spam_rule(manager, project=project, action="raise_gold_rate", gold_rate=0.5, duration_hours=2)
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)
    assert state_of(spammer, project).gold_rate_override == 0.5

    early = rules_sweep(now=timezone.now() + timedelta(hours=1))
    late = rules_sweep(now=timezone.now() + timedelta(hours=3))

    assert (early.expired, late.expired) == (0, 1)
    assert late.actions == []  # the same evidence does not count twice
    action.refresh_from_db()
    assert action.state == "expired"
    assert state_of(spammer, project).gold_rate_override is None
    assert "rule_action.expired" in audit_actions()


def test_a_timed_project_suspension_ends_with_its_time(manager, project):
    spammer = make_worker()
    spam_rule(manager, project=project, action="suspend_project", duration_hours=24)
    gold_record(project, spammer, GOLD_SPAM)

    [action] = rules_evaluate(user=spammer, project=project)
    state = state_of(spammer, project)
    assert state.is_suspended
    assert state.suspended_until == action.expires_at

    rules_sweep(now=action.expires_at + timedelta(seconds=1))
    state = state_of(spammer, project)
    assert (state.is_suspended, state.suspended_until) == (False, None)


def test_upholding_an_appeal_restores_access_everywhere(manager, project):
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)

    appeal = rule_action_appeal(action=action, user=spammer, reason="My cat was sick.")
    decided = appeal_decide(appeal=appeal, manager=manager, uphold=True, note="Fair enough.")

    assert decided.status == "upheld"
    action.refresh_from_db()
    assert (action.state, action.ended_by) == ("reversed", manager)
    assert status_of(spammer) == "active"
    assert worker_eligibility(user=spammer, skill_id=None, min_level=1) is None
    assert [a for a in audit_actions() if a.startswith(("appeal.", "rule_action.r"))] == [
        "appeal.filed",
        "rule_action.reversed",
        "appeal.decided",
    ]


def test_upholding_an_appeal_gives_back_the_project_and_the_skill_level(manager):
    skill = skill_create(slug="sentiment", name="Sentiment", actor=None)
    project = make_project(required_skill=skill, required_level=2)
    spammer = make_worker(skill=skill, level=3)
    managed(manager, spammer)
    spam_rule(manager, project=project, action="remove_skill_level")
    spam_rule(manager, project=project, action="suspend_project")
    gold_record(project, spammer, GOLD_SPAM)

    actions = rules_evaluate(user=spammer, project=project)

    assert len(actions) == 2
    assert not SkillLevel.objects.filter(user=spammer, skill=skill).exists()
    assert state_of(spammer, project).is_suspended
    assert worker_eligibility(user=spammer, skill_id=skill.pk, min_level=2) is not None
    for action in actions:
        appeal = rule_action_appeal(action=action, user=spammer, reason="A mistake.")
        appeal_decide(appeal=appeal, manager=manager, uphold=True)
    assert SkillLevel.objects.get(user=spammer, skill=skill).level == 3
    state = state_of(spammer, project)
    assert (state.is_suspended, state.suspended_until) == (False, None)
    assert worker_eligibility(user=spammer, skill_id=skill.pk, min_level=2) is None


def test_a_rejected_appeal_keeps_the_action(manager, project):
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)
    appeal = rule_action_appeal(action=action, user=spammer, reason="Not me.")

    decided = appeal_decide(appeal=appeal, manager=manager, uphold=False, note="It was you.")

    assert decided.status == "rejected"
    action.refresh_from_db()
    assert action.state == "upheld"
    assert status_of(spammer) == "suspended"
    assert rules_evaluate(user=spammer, project=project) == []


def test_a_rejection_needs_a_note_and_an_appeal_is_decided_once(manager, project):
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)
    appeal = rule_action_appeal(action=action, user=spammer, reason="Not me.")

    with pytest.raises(ValidationFailed):
        appeal_decide(appeal=appeal, manager=manager, uphold=False, note=" ")
    appeal_decide(appeal=appeal, manager=manager, uphold=True)
    with pytest.raises(Conflict) as repeat:
        appeal_decide(appeal=appeal, manager=manager, uphold=False, note="No.")

    assert repeat.value.code == "appeal_decided"


def test_only_the_person_appeals_once_and_only_a_manager_decides(manager, project):
    spammer, other = make_worker(), make_worker()
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)

    with pytest.raises(NotFound):
        rule_action_appeal(action=action, user=other, reason="On their behalf.")
    with pytest.raises(ValidationFailed):
        rule_action_appeal(action=action, user=spammer, reason="  ")
    appeal = rule_action_appeal(action=action, user=spammer, reason="Not me.")
    with pytest.raises(Conflict) as again:
        rule_action_appeal(action=action, user=spammer, reason="Really not me.")
    with pytest.raises(PermissionDenied):
        appeal_decide(appeal=appeal, manager=spammer, uphold=True)

    assert again.value.code == "appeal_exists"


def test_a_manager_lifts_an_action_and_its_pending_appeal_is_upheld(manager, project):
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager, project=project, action="require_retraining")
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)
    assert state_of(spammer, project).needs_retraining
    appeal = rule_action_appeal(action=action, user=spammer, reason="I retrained.")

    rule_action_lift(action=action, manager=manager, note="Retrained on Monday.")

    action.refresh_from_db()
    appeal.refresh_from_db()
    assert (action.state, action.end_note) == ("reversed", "Retrained on Monday.")
    assert appeal.status == "upheld"
    assert not state_of(spammer, project).needs_retraining
    with pytest.raises(Conflict):
        rule_action_lift(action=action, manager=manager)
    assert "rule_action.lifted" in audit_actions()
