"""GET /api/v1/dashboards/people/: the people table by API, scoped, sorted, filtered, paginated,
in the documented error shape."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Role
from tests.dashboards.people_data import add_people, make_world
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboards/people/"


@pytest.fixture
def world():
    return make_world()


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_manager_gets_the_people_of_their_teams_sorted(world):
    response = api(world.manager).get(URL, {"sort": "-gold_accuracy"})

    assert response.status_code == 200
    body = response.json()
    assert [row["person"] for row in body["results"]] == [world.b.pk, world.a.pk]
    a = body["results"][1]
    assert a["measures"]["submissions"] == 10
    assert a["team"] == "Alpha"
    assert sum(a["final_tasks_by_day"]) == 8


def test_filters_by_skill_and_standing(world):
    by_skill = api(world.manager).get(URL, {"skill": world.skill.pk}).json()
    by_standing = api(world.manager).get(URL, {"standing": "probation"}).json()

    assert [row["person"] for row in by_skill["results"]] == [world.a.pk]
    assert [row["person"] for row in by_standing["results"]] == [world.b.pk]


def test_pages_follow_the_sort_over_everyone(world):
    add_people(world.team, 12, world.p1, world.hour)

    first = api(world.manager).get(URL, {"sort": "submissions", "page_size": 5}).json()
    third = api(world.manager).get(URL, {"sort": "submissions", "page_size": 5, "page": 3}).json()

    assert first["count"] == 14
    submissions = [row["measures"]["submissions"] for row in first["results"]]
    assert submissions == sorted(submissions)
    assert len(third["results"]) == 4


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CUSTOMER])
def test_people_without_people_to_manage_are_refused(world, role):
    response = api(make_user(role, mfa=True)).get(URL)

    assert response.status_code == 403
    assert response.json()["code"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "salary"}, "sort"),
        ({"standing": "emperor"}, "standing"),
        ({"period": "custom"}, "since"),
        ({"team": "x"}, "team"),
    ],
)
def test_bad_input_names_the_field(world, query, field):
    response = api(world.manager).get(URL, query)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["extra"]["fields"]


def test_statements_do_not_grow_with_people(world):
    client = api(world.manager)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)

    add_people(world.team, 30, world.p1, world.hour)
    with CaptureQueriesContext(connection) as many:
        client.get(URL)

    assert len(many) == len(few)
