"""The manager overview (page, CSV and API): scoped to the manager's projects and people, its
figures computed by hand from rollup rows, its alerts linking to the evidence, and a number of
queries that does not grow with projects and people."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling.models import Lease
from labeling.services.claim import slot_claim_next
from quality.models import RuleAction
from tests.dashboards.conftest import (
    LAST_HOUR,
    NOW,
    more_of,
    person_hour,
    progress,
    project_hour,
)
from tests.labeling.factories import add_tasks
from tests.quality.factories import spam_rule

pytestmark = pytest.mark.django_db


def overview_of(client, user):
    client.force_login(user)
    response = client.get("/dashboards/")
    assert response.status_code == 200
    return response


def test_a_manager_sees_only_the_projects_of_their_teams(client, world, frozen):
    page = overview_of(client, world.manager)

    lines = page.context["figures"].projects
    assert [line.project.pk for line in lines] == [world.mine.pk]
    assert world.theirs.name not in page.content.decode()


def test_an_administrator_sees_every_project(client, world, frozen):
    page = overview_of(client, world.admin)

    assert {line.project.pk for line in page.context["figures"].projects} >= {
        world.mine.pk,
        world.theirs.pk,
    }


def test_a_customer_is_sent_to_their_own_view_and_an_annotator_is_refused(client, world):
    client.force_login(world.customer_user)
    to_customer = client.get("/dashboards/")
    client.force_login(world.a)
    refused = client.get("/dashboards/")

    assert to_customer.status_code == 302
    assert to_customer["Location"] == "/dashboards/customer/"
    assert refused.status_code == 403


def test_last_hour_is_compared_with_the_same_hour_of_the_7_days_before(client, world, frozen):
    person_hour(world.a, world.mine, LAST_HOUR, submissions=9)
    person_hour(world.b, world.mine, LAST_HOUR, submissions=3)
    project_hour(world.mine, LAST_HOUR, 4)
    person_hour(world.a, world.mine, LAST_HOUR - timedelta(days=1), submissions=14)
    person_hour(world.a, world.mine, LAST_HOUR - timedelta(days=7), submissions=7)
    project_hour(world.mine, LAST_HOUR - timedelta(days=3), 7)
    person_hour(world.a, world.mine, LAST_HOUR - timedelta(days=8), submissions=1000)  # too old
    person_hour(world.a, world.mine, LAST_HOUR - timedelta(hours=1), submissions=1000)  # other hour
    person_hour(world.c, world.theirs, LAST_HOUR, submissions=1000)  # not the manager's project

    throughput = overview_of(client, world.manager).context["figures"].throughput

    assert throughput.hour == LAST_HOUR
    assert throughput.submissions == 12
    assert throughput.final_tasks == 4
    assert throughput.usual_submissions == pytest.approx(21 / 7)
    assert throughput.usual_final_tasks == pytest.approx(1.0)


def test_a_project_that_will_miss_its_deadline_is_flagged_late(client, world, frozen):
    # 12 final tasks in the last 24 h: 0.5 an hour; 30 left take 60 h, past a deadline in 48 h.
    progress(world.mine, total=50, final=20, deadline=NOW + timedelta(hours=48))
    project_hour(world.mine, LAST_HOUR, 12)

    page = overview_of(client, world.manager)

    [line] = page.context["figures"].projects
    assert line.pace.remaining == 30
    assert line.pace.eta == NOW + timedelta(hours=60)
    assert line.pace.is_late
    assert [late.project.pk for late in page.context["figures"].late_projects] == [world.mine.pk]
    html = page.content.decode()
    assert 'id="alert-late"' in html and f"/dashboards/projects/{world.mine.pk}/" in html
    assert "late-flag" in html


def test_a_project_on_pace_for_its_deadline_is_not_flagged(client, world, frozen):
    progress(world.mine, total=50, final=20, deadline=NOW + timedelta(hours=61))
    project_hour(world.mine, LAST_HOUR, 12)

    page = overview_of(client, world.manager)

    assert page.context["figures"].late_projects == []


def test_people_confidently_below_the_floor_are_flagged_with_a_link_to_their_page(
    client, world, frozen
):
    # A: 2 right of 20 gold (Wilson high 0.30 < 0.6); B: 1 of 2 (too few to tell); C: 2 of 20 but
    # in another manager's team.
    person_hour(world.a, world.mine, LAST_HOUR, gold_scored=20, gold_score_micros=2_000_000)
    person_hour(world.b, world.mine, LAST_HOUR, gold_scored=2, gold_score_micros=1_000_000)
    person_hour(world.c, world.theirs, LAST_HOUR, gold_scored=20, gold_score_micros=2_000_000)
    old = LAST_HOUR - timedelta(days=8)  # outside the 7 days
    person_hour(world.b, world.mine, old, gold_scored=50, gold_score_micros=0)

    page = overview_of(client, world.manager)

    [alert] = page.context["figures"].people_below
    assert alert.user_id == world.a.pk
    assert alert.gold_accuracy == pytest.approx(0.1)
    assert alert.gold_high < 0.6
    # The person's performance page (the evidence), not only their profile.
    assert f'href="/dashboards/people/{world.a.pk}/"' in page.content.decode()


def test_rules_fired_today_link_to_the_action_and_yesterdays_do_not_show(client, world, frozen):
    rule = spam_rule(world.manager, world.mine)
    today = RuleAction.objects.create(
        rule=rule,
        user=world.a,
        project=world.mine,
        kind="notify",
        metric_value=0.2,
        sample_size=20,
        taken_at=NOW - timedelta(hours=1),
    )
    RuleAction.objects.create(
        rule=rule,
        user=world.b,
        project=world.mine,
        kind="notify",
        metric_value=0.2,
        sample_size=20,
        taken_at=NOW - timedelta(days=1),
    )

    page = overview_of(client, world.manager)

    assert [a.pk for a in page.context["figures"].actions_today] == [today.pk]
    assert f'href="/quality/actions/{today.pk}/"' in page.content.decode()


def test_people_working_now_are_those_holding_a_live_lease(client, world, frozen):
    add_tasks(world.mine, 3)
    slot_claim_next(project=world.mine, user=world.a, now=NOW)
    lapsed = slot_claim_next(project=world.mine, user=world.b, now=NOW - timedelta(hours=2))
    assert Lease.objects.get(pk=lapsed.lease.pk).expires_at < NOW

    figures = overview_of(client, world.manager).context["figures"]

    assert figures.people_working_count == 1
    assert [pk for pk, _ in figures.people_working] == [world.a.pk]
    assert figures.projects[0].working_now == 1


def test_the_overviews_queries_do_not_grow_with_projects_and_people(client, world, monkeypatch):
    more_of(world.manager, 1)
    client.force_login(world.manager)
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    client.get("/dashboards/")  # warm: content types, sessions
    with CaptureQueriesContext(connection) as few:
        assert client.get("/dashboards/").status_code == 200

    monkeypatch.undo()  # people are made on the real clock (their terms are current now)
    more_of(world.manager, 6)
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/dashboards/")

    figures = page.context["figures"]
    assert len(figures.projects) == 8
    assert len(figures.people_below) == 7 and figures.people_working_count == 7
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_the_overview_csv_lists_the_managers_projects(client, world, frozen):
    progress(world.mine, total=10, final=4, deadline=NOW - timedelta(hours=1))
    client.force_login(world.manager)

    response = client.get("/dashboards/overview.csv")

    lines = response.content.decode().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0].startswith("project_id,project,customer,tasks_total,tasks_final,remaining")
    assert len(lines) == 2
    cells = lines[1].split(",")
    assert cells[0] == str(world.mine.pk)
    assert cells[3:6] == ["10", "4", "6"]
    assert "late" in cells


def test_the_overview_api_is_scoped_and_for_staff_only(client, world, frozen):
    progress(world.mine, total=10, final=4)
    project_hour(world.mine, LAST_HOUR, 6)
    client.force_login(world.manager)
    mine = client.get("/api/v1/dashboards/overview/")
    client.force_login(world.customer_user)
    refused = client.get("/api/v1/dashboards/overview/")

    assert mine.status_code == 200, mine.json()
    body = mine.json()
    assert [row["project"] for row in body["projects"]] == [world.mine.pk]
    assert body["projects"][0]["pace"]["remaining"] == 6
    assert body["projects"][0]["pace"]["final_tasks_in_window"] == 6
    assert body["throughput"]["final_tasks"] == 6
    assert refused.status_code == 403
    assert refused.json()["code"]


def test_the_nav_links_the_overview_for_managers_and_home_for_administrators(client, world):
    client.force_login(world.manager)
    manager_home = client.get("/").content.decode()
    client.force_login(world.admin)
    admin_home = client.get("/").content.decode()
    client.force_login(world.a)
    annotator_home = client.get("/").content.decode()

    assert '<li><a href="/dashboards/"' in manager_home
    assert 'href="/dashboards/"' in admin_home  # on the Workforce card: the nav is full
    assert 'href="/dashboards/"' not in annotator_home
