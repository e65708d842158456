"""The performance API: measures by person, team, project and customer, scoped by role."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.performance.rollups import rollups_rebuild
from tests.labeling.factories import make_worker
from tests.quality.factories import managed, work_submit
from tests.quality.performance.conftest import H, at

pytestmark = pytest.mark.django_db

SPAN = {"since": "2026-11-02T10:00:00Z", "until": "2026-11-02T12:00:00Z"}


@pytest.fixture
def rolled(hand_dataset):
    rollups_rebuild(now=H + timedelta(hours=3))
    return hand_dataset


def subjects(response):
    assert response.status_code == 200, response.content
    return sorted(row["subject"] for row in response.json()["results"])


def test_a_manager_sees_the_people_of_their_teams_only(client, rolled):
    client.force_login(rolled.manager)

    response = client.get("/api/v1/performance/people/", SPAN)

    assert subjects(response) == sorted([str(rolled.a.pk), str(rolled.b.pk)])
    assert client.get(f"/api/v1/performance/people/{rolled.c.pk}/", SPAN).status_code == 404


def test_a_manager_reads_a_person_by_hour_with_every_measure(client, rolled):
    client.force_login(rolled.manager)

    response = client.get(f"/api/v1/performance/people/{rolled.a.pk}/", {**SPAN, "period": "hour"})

    rows = response.json()["results"]
    assert [row["period_start"] for row in rows] == ["2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z"]
    assert rows[0]["measures"]["submissions"] == 4
    assert rows[0]["measures"]["review_pass_rate"] == pytest.approx(1 / 3)
    assert rows[0]["name"]  # staff see who it is


def test_a_manager_sees_their_team(client, rolled):
    client.force_login(rolled.manager)

    [row] = client.get("/api/v1/performance/teams/", SPAN).json()["results"]

    assert row["measures"]["submissions"] == 6


def test_an_annotator_sees_only_themself(client, rolled):
    client.force_login(rolled.a)

    assert subjects(client.get("/api/v1/performance/people/", SPAN)) == [str(rolled.a.pk)]
    assert client.get(f"/api/v1/performance/people/{rolled.a.pk}/", SPAN).status_code == 200
    assert client.get(f"/api/v1/performance/people/{rolled.b.pk}/", SPAN).status_code == 404
    assert subjects(client.get("/api/v1/performance/teams/", SPAN)) == []
    assert subjects(client.get("/api/v1/performance/projects/", SPAN)) == []


def test_a_customer_sees_their_projects_and_people_only_by_anonymous_ids(client, rolled):
    client.force_login(rolled.customer_user)

    people = client.get("/api/v1/performance/people/", SPAN).json()["results"]
    projects = subjects(client.get("/api/v1/performance/projects/", SPAN))

    assert len(people) == 2  # A and B worked on the customer's project; C did not
    assert all(row["subject"].startswith("p_") and row["name"] is None for row in people)
    assert str(rolled.a.pk) not in {row["subject"] for row in people}
    assert projects == [str(rolled.project.pk)]
    assert client.get(f"/api/v1/performance/people/{rolled.a.pk}/", SPAN).status_code == 404


def test_a_project_row_counts_its_final_tasks_once(client, rolled):
    client.force_login(rolled.customer_user)

    [row] = client.get("/api/v1/performance/projects/", SPAN).json()["results"]

    assert row["measures"]["final_tasks"] == 1
    assert row["measures"]["cost_per_final_task_minor"] is None


def test_bad_input_is_refused_naming_the_field(client, rolled):
    client.force_login(rolled.manager)

    period = client.get("/api/v1/performance/people/", {"period": "fortnight"})
    backwards = client.get(
        "/api/v1/performance/people/", {"since": "2026-11-03", "until": "2026-11-02"}
    )
    too_long = client.get(
        "/api/v1/performance/people/",
        {"since": "2026-01-01", "until": "2026-11-02", "period": "hour"},
    )
    garbled = client.get("/api/v1/performance/people/", {"until": "soon"})

    assert period.status_code == 400 and "period" in period.json()["extra"]["fields"]
    assert backwards.status_code == 400 and "since" in backwards.json()["extra"]["fields"]
    assert too_long.status_code == 400 and "since" in too_long.json()["extra"]["fields"]
    assert garbled.status_code == 400 and "until" in garbled.json()["extra"]["fields"]


def test_the_definitions_are_listed(client, rolled):
    client.force_login(rolled.a)

    names = [d["name"] for d in client.get("/api/v1/performance/measures/").json()]

    assert "time_per_task_p90" in names and "gold_accuracy_low" in names


def test_anonymous_callers_are_refused(client, rolled):
    assert client.get("/api/v1/performance/people/", SPAN).status_code in (401, 403)


def test_the_endpoints_are_in_the_openapi_schema(client, rolled):
    client.force_login(rolled.manager)

    schema = client.get("/api/v1/schema/").content.decode()

    assert "/api/v1/performance/people/{person_id}/" in schema
    assert "/api/v1/performance/projects/" in schema


def test_the_people_list_takes_as_many_queries_however_many_people(
    client, rolled, django_assert_max_num_queries
):
    client.force_login(rolled.manager)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/performance/people/", SPAN)
    for _ in range(5):
        person = make_worker()
        managed(rolled.manager, person)
        work_submit(rolled.project, person, at=at(30))
    rollups_rebuild(now=H + timedelta(hours=3))

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/performance/people/", SPAN)

    assert response.json()["count"] == 7


def test_rows_sort_by_a_measure_and_an_unknown_one_is_refused(client, rolled):
    client.force_login(rolled.manager)

    fastest = client.get("/api/v1/performance/people/", {**SPAN, "sort": "-rework_rate"})
    unknown = client.get("/api/v1/performance/people/", {**SPAN, "sort": "-charm"})

    assert [row["subject"] for row in fastest.json()["results"]] == [
        str(rolled.a.pk),  # 1 rework of 5
        str(rolled.b.pk),  # none
    ]
    assert unknown.status_code == 400 and "sort" in unknown.json()["extra"]["fields"]
