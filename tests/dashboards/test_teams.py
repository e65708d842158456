"""Teams side by side: a manager's teams only (administrators: all), the main measures of each
team as the sum of its members' work, and a CSV of the same rows."""

import csv
import io

import pytest

from accounts.models import Role
from tests.dashboards.people_data import make_world
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = "/dashboards/teams/"


@pytest.fixture
def world():
    return make_world()


def test_a_manager_compares_only_their_teams(client, world):
    client.force_login(world.manager)

    response = client.get(URL)

    [(row, _)] = response.context["rows"]
    assert row.name == "Alpha"
    assert row.measures["submissions"] == 14  # A's 10 and B's 4
    assert row.measures["final_tasks"] == 9
    assert row.measures["gold_accuracy"] == pytest.approx(5 / 6)
    assert b"Beta" not in response.content


def test_an_administrator_compares_every_team(client, world):
    client.force_login(world.admin)

    response = client.get(URL, {"sort": "-submissions"})

    assert [row.name for row, _ in response.context["rows"]] == ["Beta", "Alpha"]


def test_others_are_refused(client, world):
    client.force_login(make_user(Role.ANNOTATOR))

    assert client.get(URL).status_code == 403
    assert client.get("/dashboards/teams.csv").status_code == 403


def test_the_csv_equals_the_table(client, world):
    client.force_login(world.admin)

    table = client.get(URL, {"sort": "gold_accuracy"})
    download = client.get("/dashboards/teams.csv", {"sort": "gold_accuracy"})

    lines = list(csv.DictReader(io.StringIO(download.content.decode())))
    rows = [row for row, _ in table.context["rows"]]
    assert [line["name"] for line in lines] == [row.name for row in rows]
    assert [int(line["submissions"]) for line in lines] == [
        row.measures["submissions"] for row in rows
    ]


def test_the_chart_data_follows_the_table(client, world):
    client.force_login(world.admin)

    response = client.get(URL, {"sort": "-submissions"})

    chart = response.context["chart"]
    assert chart["teams"] == ["Beta", "Alpha"]
    assert chart["final_tasks_per_active_hour"] == [9.0, pytest.approx(9 * 3600 / 5400)]
