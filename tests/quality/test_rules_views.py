"""The quality-rule pages: rules and dry runs for managers, actions and appeals for the people concerned."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from core.models import AuditEvent
from quality.models import (
    Appeal,
    QualityRule,
    RuleAction,
)
from quality.services import rule_action_appeal, rules_evaluate
from tests.factories import make_user
from tests.labeling.factories import make_project, make_worker
from tests.quality.rules_data import GOLD_SPAM, gold_record, spam_rule
from workforce.models import AnnotatorProfile

pytestmark = pytest.mark.django_db

RULE_FORM = {
    "project": "",
    "name": "Low gold accuracy",
    "description": "",
    "metric": "gold_accuracy",
    "window_kind": "items",
    "window_size": "20",
    "min_sample": "10",
    "comparator": "lt",
    "threshold": "0.6",
    "fast_answer_seconds": "",
    "action": "suspend_everywhere",
    "gold_rate": "",
    "duration_hours": "",
    "is_active": "on",
}


def hit(manager, project, person, **rule):
    spam_rule(manager, **rule)
    gold_record(project, person, GOLD_SPAM)
    [action] = rules_evaluate(user=person, project=project)
    return action


def test_a_manager_creates_a_rule_and_lands_on_its_dry_run(manager_client):
    response = manager_client.post("/quality/rules/new/", RULE_FORM)

    rule = QualityRule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/quality/rules/{rule.pk}/dry-run/"
    assert (rule.project, rule.threshold, rule.is_active) == (None, 0.6, True)
    assert AuditEvent.objects.filter(action="quality_rule.created").exists()


def test_a_missing_gold_rate_is_shown_next_to_its_field(manager_client):
    response = manager_client.post(
        "/quality/rules/new/", {**RULE_FORM, "action": "raise_gold_rate"}
    )

    assert response.status_code == 200
    assert "gold_rate" in response.context["form"].errors
    assert 'id="id_gold_rate_errors"' in response.content.decode()
    assert QualityRule.objects.count() == 0


def test_the_rule_list_says_what_each_rule_does(manager_client, manager):
    spam_rule(manager, action="suspend_project", project=make_project(), duration_hours=24)

    html = manager_client.get("/quality/rules/").content.decode()

    assert "Gold accuracy &lt; 0.6 over the last 20 items, once at least 10 are seen" in html
    assert "Suspend from the project, for 24 h" in html


def test_editing_keeps_the_project_and_switching_off_is_audited(manager_client, manager, project):
    rule = spam_rule(manager, project=project, action="notify")

    edited = manager_client.post(
        f"/quality/rules/{rule.pk}/edit/",
        {**RULE_FORM, "project": make_project().pk, "threshold": "0.5", "action": "notify"},
    )
    manager_client.post(f"/quality/rules/{rule.pk}/deactivate/")

    rule.refresh_from_db()
    assert edited.status_code == 302
    assert (rule.project, rule.threshold, rule.is_active) == (project, 0.5, False)
    assert AuditEvent.objects.filter(action="quality_rule.deactivated").exists()


def test_the_dry_run_page_shows_whom_the_rule_would_hit(manager_client, manager, project):
    spammer, worker = make_worker(), make_worker()
    rule = spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    gold_record(project, worker, [1.0] * 12)

    response = manager_client.get(f"/quality/rules/{rule.pk}/dry-run/")

    html = response.content.decode()
    assert "1 of 2 people would be hit" in html
    assert html.index(spammer.email) < html.index(worker.email)
    assert RuleAction.objects.count() == 0


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CUSTOMER])
def test_others_are_refused_the_rule_pages(client, role):
    client.force_login(make_user(role))

    for url in ("/quality/rules/", "/quality/actions/", "/quality/appeals/"):
        assert client.get(url).status_code == 403
    assert client.post("/quality/rules/new/", RULE_FORM).status_code == 403
    assert QualityRule.objects.count() == 0


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/quality/mine/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_managers_find_the_rules_in_the_navigation(client, manager):
    client.force_login(manager)
    assert ("Quality rules", "/quality/rules/") in client.get("/").context["nav_items"]

    client.force_login(make_worker())
    assert "Quality rules" not in {label for label, _ in client.get("/").context["nav_items"]}


def test_a_person_sees_their_actions_and_appeals_one(client, manager, project):
    spammer, other = make_worker(), make_worker()
    action = hit(manager, project, spammer)
    gold_record(project, other, GOLD_SPAM)
    [others] = rules_evaluate(user=other, project=project)
    client.force_login(spammer)

    mine = client.get("/quality/mine/").content.decode()
    detail = client.get(f"/quality/actions/{action.pk}/")
    hidden = client.get(f"/quality/actions/{others.pk}/")
    filed = client.post(f"/quality/actions/{action.pk}/appeal/", {"reason": "I am not a bot."})

    assert f"/quality/actions/{action.pk}/" in mine
    assert f"/quality/actions/{others.pk}/" not in mine
    assert detail.status_code == 200
    assert "not shown: they would tell which tasks were checks" in detail.content.decode()
    assert str(action.item_ids[0]) not in detail.content.decode().split("Evidence", 1)[1]
    assert hidden.status_code == 404
    assert filed.status_code == 302
    assert Appeal.objects.get().reason == "I am not a bot."


def test_an_empty_appeal_is_refused_next_to_the_field(client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    client.force_login(spammer)

    response = client.post(f"/quality/actions/{action.pk}/appeal/", {"reason": ""})

    assert response.status_code == 200
    assert "reason" in response.context["appeal_form"].errors
    assert Appeal.objects.count() == 0


def test_a_manager_sees_the_full_evidence_and_lifts_an_action(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)

    detail = manager_client.get(f"/quality/actions/{action.pk}/").content.decode()
    lifted = manager_client.post(f"/quality/actions/{action.pk}/lift/", {"note": "Our mistake."})

    assert ", ".join(str(i) for i in action.item_ids) in detail
    assert "Account status set to suspended (was active)" in detail
    assert lifted.status_code == 302
    assert AnnotatorProfile.objects.get(user=spammer).status == "active"


def test_a_manager_upholds_an_appeal_and_access_comes_back(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    appeal = rule_action_appeal(action=action, user=spammer, reason="I am not a bot.")
    page = manager_client.get("/quality/appeals/").content.decode()

    response = manager_client.post(
        f"/quality/appeals/{appeal.pk}/decide/", {"decision": "uphold", "note": ""}
    )

    assert "I am not a bot." in page
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == "upheld"
    assert AnnotatorProfile.objects.get(user=spammer).status == "active"


def test_a_rejection_without_a_note_is_shown_next_to_the_note(manager_client, manager, project):
    spammer = make_worker()
    action = hit(manager, project, spammer)
    appeal = rule_action_appeal(action=action, user=spammer, reason="I am not a bot.")

    response = manager_client.post(
        f"/quality/appeals/{appeal.pk}/decide/", {"decision": "reject", "note": ""}
    )

    assert response.status_code == 400
    assert f'id="appeal-{appeal.pk}-note_errors"' in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.status == "pending"


def test_page_queries_do_not_grow_with_the_rows(
    client, manager, project, django_assert_max_num_queries
):
    rule = spam_rule(manager, action="notify")
    people = []
    pages = [
        (manager, "/quality/rules/"),
        (manager, "/quality/actions/"),
        (manager, "/quality/appeals/"),
        (manager, f"/quality/rules/{rule.pk}/dry-run/"),
        (None, "/quality/mine/"),
    ]

    def seed(count):
        for _ in range(count):
            person = make_worker()
            gold_record(project, person, GOLD_SPAM)
            actions = rules_evaluate(user=person, project=project)
            rule_action_appeal(action=actions[0], user=person, reason="Not a bot.")
            spam_rule(manager, is_active=False)
            people.append(person)
        # The person's own page grows too: every rule acts on the first person.
        for rule in QualityRule.objects.exclude(actions__user=people[0]):
            rule.is_active = True
            rule.save()
        rules_evaluate(user=people[0], project=project)

    def queries(viewer, url):
        client.force_login(viewer or people[0])
        client.get(url)  # warm the per-process caches (content types, sessions)
        with CaptureQueriesContext(connection) as counted:
            assert client.get(url).status_code == 200
        return len(counted)

    seed(1)
    before = {url: queries(viewer, url) for viewer, url in pages}
    seed(4)
    for viewer, url in pages:
        client.force_login(viewer or people[0])
        with django_assert_max_num_queries(before[url], info=url):
            assert client.get(url).status_code == 200
    assert RuleAction.objects.filter(user=people[0]).count() > 1
