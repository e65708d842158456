"""The rule pages: managers list, create, change, deactivate and dry-run rules."""

import pytest

from core.models import AuditEvent
from quality.models import (
    QualityRule,
    RuleAction,
)
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    RULE_FORM,
    gold_record,
    spam_rule,
)

pytestmark = pytest.mark.django_db


def test_a_manager_creates_a_rule_and_lands_on_its_dry_run(manager_client, project):
    response = manager_client.post("/quality/rules/new/", {**RULE_FORM, "project": project.pk})

    rule = QualityRule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/quality/rules/{rule.pk}/dry-run/"
    assert (rule.project, rule.threshold, rule.is_active) == (project, 0.6, True)
    assert AuditEvent.objects.filter(action="quality_rule.created").exists()


def test_a_missing_gold_rate_is_shown_next_to_its_field(manager_client, project):
    response = manager_client.post(
        "/quality/rules/new/", {**RULE_FORM, "project": project.pk, "action": "raise_gold_rate"}
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


def test_managers_find_the_rules_in_the_navigation(client, manager):
    client.force_login(manager)
    assert ("Quality rules", "/quality/rules/") in client.get("/").context["nav_items"]

    client.force_login(make_worker())
    assert "Quality rules" not in {label for label, _ in client.get("/").context["nav_items"]}


def test_a_rule_for_every_project_is_refused_next_to_the_project_field(manager_client):
    # A rule for every project acts on every team's people: only administrators set one.
    response = manager_client.post("/quality/rules/new/", RULE_FORM)

    assert response.status_code == 200
    assert "project" in response.context["form"].errors
    assert not QualityRule.objects.exists()
