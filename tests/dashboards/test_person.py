"""A person's page: their measures by day and over the period, charts' data, recent rule actions
and reviews, the actions next to the evidence; 404 outside the manager's scope; CSV by day."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from tests.dashboards.people_data import make_world, rollup
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def url(person, suffix=""):
    return f"/dashboards/people/{person.pk}/{suffix}"


def chart_of(response):
    text = response.content.decode()
    start = text.index('<script id="person-chart" type="application/json">') + len(
        '<script id="person-chart" type="application/json">'
    )
    return json.loads(text[start : text.index("</script>", start)])


def test_a_manager_sees_their_persons_measures_over_the_period(client, world):
    client.force_login(world.manager)

    response = client.get(url(world.a))

    assert response.status_code == 200
    page = response.context["page"]
    assert page.total["submissions"] == 10
    assert page.total["final_tasks"] == 8
    assert page.total["gold_accuracy"] == pytest.approx(0.75)
    assert page.team == "Alpha"


def test_the_charts_have_a_point_per_day_with_the_interval_band(client, world):
    client.force_login(world.manager)

    chart = chart_of(client.get(url(world.a)))

    day = chart["days"].index(world.hour.date().isoformat())
    assert chart["final_tasks"][day : day + 2] == [6, 2]
    assert chart["submissions"][day : day + 2] == [8, 2]
    assert chart["gold_accuracy"][day] == pytest.approx(0.75)
    assert chart["gold_accuracy_low"][day] < 0.75 < chart["gold_accuracy_high"][day]
    assert chart["gold_accuracy"][day + 1] is None  # no gold that day
    assert chart["time_per_task_median"][day + 1] == pytest.approx(37.5)  # 2 in [30, 45)
    assert len(chart["days"]) == len(chart["time_per_task_p90"])


@pytest.mark.parametrize("who", ["c", "stranger"])
def test_a_person_outside_the_managers_teams_is_not_found(client, world, who):
    person = world.c if who == "c" else make_user(Role.ANNOTATOR)
    client.force_login(world.manager)

    assert client.get(url(person)).status_code == 404
    assert client.get(url(person, "days.csv")).status_code == 404


def test_an_annotator_is_not_shown_another_persons_page(client, world):
    client.force_login(world.b)

    assert client.get(url(world.a)).status_code == 404
    assert client.get(url(world.a, "days.csv")).status_code == 404


def test_an_annotator_asking_for_their_own_page_is_sent_to_my_performance(client, world):
    client.force_login(world.a)

    response = client.get(url(world.a))

    assert response.status_code == 302
    assert response["Location"] == "/dashboards/me/"


def test_the_actions_post_to_workforces_own_pages(client, world):
    client.force_login(world.manager)

    text = client.get(url(world.a)).content.decode()

    assert f'action="/people/{world.a.pk}/"' in text
    assert f'action="/people/{world.a.pk}/tier/"' in text
    assert 'value="suspended" selected' in text


def test_suspending_from_the_page_goes_through_the_status_service(client, world):
    client.force_login(world.manager)

    response = client.post(
        f"/people/{world.a.pk}/", {"op": "status", "status": "suspended", "reason": "Slow"}
    )

    assert response.status_code == 302
    world.a.annotator_profile.refresh_from_db()
    assert world.a.annotator_profile.status == "suspended"
    assert client.get(url(world.a)).context["page"].standing == "Suspended"


def test_recent_rule_actions_and_reviews_are_listed(client, world):
    from tests.labeling.factories import make_project
    from tests.quality.factories import hit

    project = make_project()
    action = hit(world.other_manager, project, world.c)
    client.force_login(world.other_manager)

    response = client.get(url(world.c))

    assert [a.pk for a in response.context["page"].actions] == [action.pk]
    assert f"/quality/actions/{action.pk}/" in response.content.decode()


def test_the_csv_has_a_row_per_day_with_work(client, world):
    client.force_login(world.manager)

    download = client.get(url(world.a, "days.csv"))

    lines = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [line["day"] for line in lines] == [
        world.hour.date().isoformat(),
        (world.hour + timedelta(days=1)).date().isoformat(),
    ]
    assert [int(line["final_tasks"]) for line in lines] == [6, 2]


def test_the_pages_statements_do_not_grow_with_days_of_work(client, world):
    client.force_login(world.manager)
    with CaptureQueriesContext(connection) as few:
        client.get(url(world.a))

    for day in range(2, 6):
        rollup(world.a, world.p1, world.hour - timedelta(days=day), submissions=1)
    with CaptureQueriesContext(connection) as many:
        client.get(url(world.a))

    assert len(many) == len(few)
