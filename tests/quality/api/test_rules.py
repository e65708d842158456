"""The quality rules API: rules and dry runs for managers, actions and appeals for everyone in scope."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from core.models import AuditEvent
from quality.models import (
    QualityRule,
    RuleAction,
)
from quality.services.actions import rule_action_appeal
from quality.services.evaluation import rules_evaluate
from tests.factories import make_user
from tests.labeling.factories import make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    gold_record,
    hit,
    managed,
    spam_rule,
)
from workforce.models import AnnotatorProfile

pytestmark = pytest.mark.django_db

RULE = {
    "name": "Low gold accuracy",
    "metric": "gold_accuracy",
    "window_kind": "items",
    "window_size": 20,
    "min_sample": 10,
    "comparator": "lt",
    "threshold": 0.6,
    "action": "suspend_everywhere",
}


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def test_a_manager_creates_a_rule(manager_client, project):
    response = post(manager_client, "/api/v1/quality-rules/", {**RULE, "project": project.pk})

    assert response.status_code == 201
    body = response.json()
    assert (body["project"], body["metric"], body["is_active"]) == (
        project.pk,
        "gold_accuracy",
        True,
    )
    assert AuditEvent.objects.filter(action="quality_rule.created").exists()


def test_a_bad_rule_is_refused_naming_the_field(manager_client, project):
    response = post(
        manager_client,
        "/api/v1/quality-rules/",
        {**RULE, "project": project.pk, "action": "raise_gold_rate"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "gold_rate" in response.json()["extra"]["fields"]


def test_the_model_s_scores_are_rule_metrics_of_project_rules_only(client, manager_client, project):
    rule = {**RULE, "metric": "spammer_score", "comparator": "gt", "threshold": 0.65}
    client.force_login(make_user(Role.ADMIN, mfa=True))

    created = post(manager_client, "/api/v1/quality-rules/", {**rule, "project": project.pk})
    refused = post(client, "/api/v1/quality-rules/", rule)

    assert created.status_code == 201 and created.json()["metric"] == "spammer_score"
    assert refused.status_code == 400
    assert "metric" in refused.json()["extra"]["fields"]


def test_earnings_are_not_a_metric_yet(manager_client):
    response = post(manager_client, "/api/v1/quality-rules/", {**RULE, "metric": "earnings_24h"})

    assert response.status_code == 400
    assert "metric" in response.json()["extra"]["fields"]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CUSTOMER])
def test_others_cannot_create_or_list_rules(client, role):
    client.force_login(make_user(role))

    created = post(client, "/api/v1/quality-rules/", RULE)
    listed = client.get("/api/v1/quality-rules/")

    assert (created.status_code, listed.status_code) == (403, 403)
    assert created.json()["code"] == "permission_denied"
    assert QualityRule.objects.count() == 0


def test_a_manager_changes_and_deactivates_a_rule(manager_client, manager, project):
    rule = spam_rule(manager, project=project)

    changed = manager_client.patch(
        f"/api/v1/quality-rules/{rule.pk}/", {"threshold": 0.5}, content_type="application/json"
    )
    stopped = post(manager_client, f"/api/v1/quality-rules/{rule.pk}/deactivate/")

    assert changed.json()["threshold"] == 0.5
    assert stopped.json()["is_active"] is False


def test_a_dry_run_lists_whom_the_rule_would_hit(manager_client, manager, project):
    spammer, worker = make_worker(), make_worker()
    rule = spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    gold_record(project, worker, [1.0] * 12)

    response = manager_client.get(f"/api/v1/quality-rules/{rule.pk}/dry-run/")

    assert response.status_code == 200
    hits = {row["person"]["id"]: row for row in response.json()}
    assert hits[spammer.pk]["would_fire"] is True
    assert (hits[spammer.pk]["value"], hits[spammer.pk]["sample"]) == (0.0, 12)
    assert hits[worker.pk]["would_fire"] is False
    assert RuleAction.objects.count() == 0


def test_a_draft_rule_is_dry_run_without_being_saved(manager_client, project):
    spammer = make_worker()
    gold_record(project, spammer, GOLD_SPAM)

    response = post(manager_client, "/api/v1/quality-rules/dry-run/", RULE)

    assert response.status_code == 200
    assert [row["person"]["id"] for row in response.json() if row["would_fire"]] == [spammer.pk]
    assert QualityRule.objects.count() == 0


def test_a_person_sees_only_their_own_actions_without_gold_items(client, manager, project):
    spammer, other = make_worker(), make_worker()
    action = hit(manager, project, spammer, action="notify")
    gold_record(project, other, GOLD_SPAM)
    rules_evaluate(user=other, project=project)
    client.force_login(spammer)

    listed = client.get("/api/v1/rule-actions/")
    others = client.get(f"/api/v1/rule-actions/{RuleAction.objects.get(user=other).pk}/")

    assert [row["id"] for row in listed.json()["results"]] == [action.pk]
    evidence = listed.json()["results"][0]["evidence"]
    assert (evidence["metric_value"], evidence["sample_size"]) == (0.0, 12)
    assert evidence["item_ids"] == []  # which tasks were gold stays hidden
    assert "taken" not in evidence
    assert others.status_code == 404


def test_a_manager_sees_every_action_with_its_full_evidence(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)

    response = manager_client.get("/api/v1/rule-actions/", {"person": spammer.pk})

    [row] = response.json()["results"]
    assert row["id"] == action.pk
    assert sorted(row["evidence"]["item_ids"]) == sorted(action.item_ids)
    assert row["evidence"]["taken"][0]["before"] == "active"


def test_the_appeal_path_restores_access(client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    client.force_login(spammer)
    filed = post(client, f"/api/v1/rule-actions/{action.pk}/appeal/", {"reason": "Not a bot."})
    client.force_login(manager)

    decided = post(
        client, f"/api/v1/appeals/{filed.json()['id']}/decide/", {"uphold": True, "note": "OK."}
    )

    assert filed.status_code == 201
    assert decided.status_code == 200
    assert decided.json()["status"] == "upheld"
    assert AnnotatorProfile.objects.get(user=spammer).status == "active"
    shown = client.get(f"/api/v1/rule-actions/{action.pk}/").json()
    assert (shown["state"], shown["appeal"]["status"]) == ("reversed", "upheld")


def test_a_person_cannot_decide_their_own_appeal_nor_appeal_twice(client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    client.force_login(spammer)
    appeal = post(client, f"/api/v1/rule-actions/{action.pk}/appeal/", {"reason": "Not a bot."})

    again = post(client, f"/api/v1/rule-actions/{action.pk}/appeal/", {"reason": "Really."})
    decided = post(client, f"/api/v1/appeals/{appeal.json()['id']}/decide/", {"uphold": True})
    lifted = post(client, f"/api/v1/rule-actions/{action.pk}/lift/")

    assert (again.status_code, again.json()["code"]) == (409, "appeal_exists")
    assert (decided.status_code, lifted.status_code) == (403, 403)


def test_a_rejection_without_a_note_names_the_note(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    appeal = rule_action_appeal(action=action, user=spammer, reason="Not a bot.")

    response = post(manager_client, f"/api/v1/appeals/{appeal.pk}/decide/", {"uphold": False})

    assert response.status_code == 400
    assert "note" in response.json()["extra"]["fields"]


def test_a_manager_lifts_an_action(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)

    response = post(manager_client, f"/api/v1/rule-actions/{action.pk}/lift/", {"note": "OK."})
    repeat = post(manager_client, f"/api/v1/rule-actions/{action.pk}/lift/")

    assert (response.status_code, response.json()["state"]) == (200, "reversed")
    assert (repeat.status_code, repeat.json()["code"]) == (409, "action_not_in_effect")
    assert AnnotatorProfile.objects.get(user=spammer).status == "active"


def test_a_person_sees_only_their_own_appeals(client, manager, project):
    spammer, other = make_worker(), make_worker()
    action = hit(manager, project, spammer, action="notify")
    rule_action_appeal(action=action, user=spammer, reason="Not a bot.")
    client.force_login(other)

    response = client.get("/api/v1/appeals/")

    assert response.json()["results"] == []


def test_list_queries_do_not_grow_with_the_rows(
    manager_client, manager, project, django_assert_max_num_queries
):
    spam_rule(manager, action="notify")
    urls = ["/api/v1/rule-actions/", "/api/v1/appeals/", "/api/v1/quality-rules/"]

    def seed(count):
        for _ in range(count):
            person = make_worker()
            managed(manager, person)
            gold_record(project, person, GOLD_SPAM)
            [action] = rules_evaluate(user=person, project=project)
            rule_action_appeal(action=action, user=person, reason="Not a bot.")
            spam_rule(manager, is_active=False)

    def queries(url):
        manager_client.get(url)  # warm the per-process caches
        with CaptureQueriesContext(connection) as counted:
            assert manager_client.get(url).status_code == 200
        return len(counted)

    seed(1)
    before = {url: queries(url) for url in urls}
    seed(4)
    for url in urls:
        with django_assert_max_num_queries(before[url], info=url):
            assert len(manager_client.get(url).json()["results"]) >= 5
