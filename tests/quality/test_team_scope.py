"""A manager sees and acts on the rule actions and appeals of the people of their teams only,
in the API, the portal and the services; another team's are "not found". Administrators see all."""

from unittest.mock import ANY

import pytest
from django.utils import timezone

from accounts.models import Role
from core.errors import NotFound, PermissionDenied
from labeling.services.projects import project_access_set
from quality.selectors import (
    appeals_visible_to,
    quality_rules_editable_by,
    quality_rules_visible_to,
    rule_actions_visible_to,
)
from quality.services.actions import appeal_decide, rule_action_appeal, rule_action_lift
from quality.services.evaluation import rules_evaluate
from quality.services.rules import rule_create, rule_deactivate, rule_update
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    gold_record,
    hit,
    make_manager,
    managed,
    managed_worker,
    spam_rule,
)
from workforce.services.tiers import tier_candidate_propose

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(manager, project):
    """`manager`'s own person and another manager's, each with an action and a pending appeal."""
    other_manager = make_manager()
    ours, theirs = make_worker(), make_worker()
    our_action = hit(manager, project, ours)
    managed(other_manager, theirs)
    gold_record(project, theirs, GOLD_SPAM)
    [their_action] = rules_evaluate(user=theirs, project=project)
    return {
        "ours": our_action,
        "theirs": their_action,
        "our_appeal": rule_action_appeal(action=our_action, user=ours, reason="Not a bot."),
        "their_appeal": rule_action_appeal(action=their_action, user=theirs, reason="Not me."),
    }


def test_a_manager_lists_only_their_teams_actions_and_appeals(manager, scene):
    assert list(rule_actions_visible_to(manager)) == [scene["ours"]]
    assert list(appeals_visible_to(manager)) == [scene["our_appeal"]]


def test_an_administrator_sees_every_action_and_appeal(scene):
    admin = make_user(Role.ADMIN, mfa=True)

    assert set(rule_actions_visible_to(admin)) == {scene["ours"], scene["theirs"]}
    assert set(appeals_visible_to(admin)) == {scene["our_appeal"], scene["their_appeal"]}


def test_another_teams_action_and_appeal_are_not_found_in_the_api(manager_client, scene):
    theirs, appeal = scene["theirs"], scene["their_appeal"]
    listed = manager_client.get("/api/v1/rule-actions/").json()["results"]
    appeals = manager_client.get("/api/v1/appeals/").json()["results"]

    detail = manager_client.get(f"/api/v1/rule-actions/{theirs.pk}/")
    lift = manager_client.post(
        f"/api/v1/rule-actions/{theirs.pk}/lift/", {}, content_type="application/json"
    )
    decide = manager_client.post(
        f"/api/v1/appeals/{appeal.pk}/decide/",
        {"uphold": True, "note": "OK."},
        content_type="application/json",
    )

    assert [row["id"] for row in listed] == [scene["ours"].pk]
    assert [row["id"] for row in appeals] == [scene["our_appeal"].pk]
    assert (detail.status_code, lift.status_code, decide.status_code) == (404, 404, 404)
    theirs.refresh_from_db()
    appeal.refresh_from_db()
    assert (theirs.state, appeal.status) == ("active", "pending")


def test_another_teams_action_and_appeal_are_not_found_in_the_portal(manager_client, scene):
    theirs, appeal = scene["theirs"], scene["their_appeal"]
    actions_page = manager_client.get("/quality/actions/").content.decode()
    appeals_page = manager_client.get("/quality/appeals/").content.decode()

    detail = manager_client.get(f"/quality/actions/{theirs.pk}/")
    lift = manager_client.post(f"/quality/actions/{theirs.pk}/lift/", {"note": ""})
    decide = manager_client.post(
        f"/quality/appeals/{appeal.pk}/decide/", {"decision": "uphold", "note": ""}
    )

    assert theirs.user.email not in actions_page
    assert scene["ours"].user.email in actions_page
    assert "Not me." not in appeals_page
    assert "Not a bot." in appeals_page
    assert (detail.status_code, lift.status_code, decide.status_code) == (404, 404, 404)


def test_the_services_refuse_another_teams_person(manager, scene):
    with pytest.raises(NotFound):
        rule_action_lift(action=scene["theirs"], manager=manager)
    with pytest.raises(NotFound):
        appeal_decide(appeal=scene["their_appeal"], manager=manager, uphold=True)

    scene["theirs"].refresh_from_db()
    assert scene["theirs"].state == "active"


def test_another_teams_tier_candidate_is_not_found(manager_client, manager):
    ours = managed_worker(manager)
    theirs = make_worker()
    managed(make_manager(), theirs)
    now = timezone.now()
    our_candidate = tier_candidate_propose(
        user=ours, from_tier="annotator", to_tier="reviewer-1", evidence={}, now=now
    )
    their_candidate = tier_candidate_propose(
        user=theirs, from_tier="annotator", to_tier="reviewer-1", evidence={}, now=now
    )

    listed = manager_client.get("/api/v1/tier-candidates/").json()["results"]
    approve = manager_client.post(
        f"/api/v1/tier-candidates/{their_candidate.pk}/approve/",
        {},
        content_type="application/json",
    )
    page = manager_client.get("/quality/tier-candidates/").content.decode()

    assert [row["id"] for row in listed] == [our_candidate.pk]
    assert approve.status_code == 404
    assert theirs.email not in page
    assert ours.email in page


def test_a_manager_sees_rules_for_every_project_and_their_projects_but_not_others(manager):
    ours = make_project()  # open to every team: the manager manages it
    theirs = make_project()
    project_access_set(
        project=theirs, actor=None, teams=[make_team()], requirements=[]
    )  # limited to a team the manager does not manage
    everywhere = spam_rule(manager)
    our_rule = spam_rule(manager, project=ours)
    their_rule = spam_rule(make_user(Role.ADMIN, mfa=True), project=theirs)

    visible = set(quality_rules_visible_to(manager))
    editable = set(quality_rules_editable_by(manager))

    assert visible == {everywhere, our_rule}
    assert editable == {our_rule}
    assert their_rule not in visible


def test_only_those_who_see_every_team_set_rules_for_every_project(manager):
    admin = make_user(Role.ADMIN, mfa=True)
    everywhere = spam_rule(admin)

    with pytest.raises(PermissionDenied) as refused:
        rule_create(
            actor=manager,
            name="Everywhere",
            metric="gold_accuracy",
            window_kind="items",
            window_size=20,
            min_sample=10,
            comparator="lt",
            threshold=0.6,
            action="suspend_everywhere",
        )
    with pytest.raises(PermissionDenied):
        rule_update(rule=everywhere, actor=manager, threshold=0.5)
    with pytest.raises(PermissionDenied):
        rule_deactivate(rule=everywhere, actor=manager)

    assert refused.value.extra["fields"] == {"project": [ANY]}
    assert rule_update(rule=everywhere, actor=admin, threshold=0.5).threshold == 0.5


def test_a_manager_cannot_edit_another_teams_project_rule_in_the_portal_or_api(
    manager_client, manager
):
    theirs = make_project()
    project_access_set(project=theirs, actor=None, teams=[make_team()], requirements=[])
    their_rule = spam_rule(make_user(Role.ADMIN, mfa=True), project=theirs)
    everywhere = spam_rule(manager)

    assert manager_client.get(f"/quality/rules/{their_rule.pk}/edit/").status_code == 404
    assert manager_client.get(f"/quality/rules/{everywhere.pk}/edit/").status_code == 404
    assert manager_client.get(f"/api/v1/quality-rules/{their_rule.pk}/").status_code == 404
    patched = manager_client.patch(
        f"/api/v1/quality-rules/{everywhere.pk}/",
        {"threshold": 0.5},
        content_type="application/json",
    )
    assert patched.status_code == 403
    assert "project" in patched.json()["extra"]["fields"]
