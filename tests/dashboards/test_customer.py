"""The customer view: a customer's own projects only, with progress, ETA, the week's figures and
cost, and nobody named; staff and annotators are refused; the API keeps the same scope."""

from datetime import timedelta

import pytest

from quality.performance.models import ProjectAgreement
from tests.dashboards.conftest import LAST_HOUR, NOW, labour, person_hour, progress, project_hour

pytestmark = pytest.mark.django_db


def view_of(client, user):
    client.force_login(user)
    return client.get("/dashboards/customer/")


def test_a_customer_sees_their_own_projects_only(client, world, frozen):
    page = view_of(client, world.customer_user)

    assert page.status_code == 200
    assert [line.project.pk for line in page.context["lines"]] == [world.mine.pk]
    assert world.theirs.name not in page.content.decode()


@pytest.mark.parametrize("who", ["manager", "a"])
def test_staff_and_annotators_have_no_customer_view(client, world, who):
    assert view_of(client, getattr(world, who)).status_code == 403


def test_the_view_shows_progress_eta_the_week_and_cost_without_naming_anyone(client, world, frozen):
    progress(world.mine, total=100, final=40, deadline=NOW + timedelta(days=1))
    project_hour(world.mine, LAST_HOUR, 24)  # 1 an hour: 60 left take 60 h, after the deadline
    project_hour(world.mine, LAST_HOUR - timedelta(days=6), 6)
    person_hour(
        world.a, world.mine, LAST_HOUR, submissions=24, gold_scored=10, gold_score_micros=9_000_000
    )
    ProjectAgreement.objects.create(project=world.mine, alpha=0.81, label="alpha", tasks=24)
    labour(world.mine, 12_340_000, key="k:1")

    page = view_of(client, world.customer_user)

    [line] = page.context["lines"]
    assert line.pace.eta == NOW + timedelta(hours=60)
    assert line.pace.is_late
    assert line.week.measures["final_tasks"] == 30
    assert line.week.measures["gold_accuracy"] == pytest.approx(0.9)
    html = page.content.decode()
    assert "late" in html
    assert "0.810" in html
    assert "12.34 USD" in html
    assert "0.31 USD per final task" in html  # 1234 cents / 40 = 30.85, half up 31
    for person in (world.a, world.b, world.c):
        assert person.email not in html
        assert f"/people/{person.pk}/" not in html


def test_a_customers_project_page_names_nobody(client, world, frozen):
    person_hour(world.a, world.mine, LAST_HOUR, submissions=3)
    client.force_login(world.customer_user)

    html = client.get(f"/dashboards/projects/{world.mine.pk}/").content.decode()

    assert world.a.email not in html
    assert world.a.full_name not in html or not world.a.full_name
    assert "Project settings and tasks" not in html  # the staff's links


def test_the_customer_csv_has_their_projects(client, world, frozen):
    progress(world.mine, total=10, final=10)
    client.force_login(world.customer_user)

    response = client.get("/dashboards/customer.csv")

    lines = response.content.decode().splitlines()
    assert len(lines) == 2
    row = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert row["project_id"] == str(world.mine.pk)
    assert row["status"] == "done"
    assert row["remaining"] == "0"


def test_the_pace_api_gives_a_customer_their_own_projects_only(client, world, frozen):
    client.force_login(world.customer_user)

    listed = client.get("/api/v1/dashboards/projects/pace/").json()["results"]
    other = client.get(f"/api/v1/dashboards/projects/{world.theirs.pk}/pace/")

    assert [row["project"] for row in listed] == [world.mine.pk]
    assert other.status_code == 404
    assert other.json()["code"]


def test_the_nav_links_a_customer_to_their_view(client, world):
    client.force_login(world.customer_user)

    assert 'href="/dashboards/customer/"' in client.get("/").content.decode()
