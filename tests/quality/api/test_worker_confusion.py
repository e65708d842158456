"""Per-person confusion matrices through the API: managers only, their own people only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from tests.factories import make_team, make_user
from tests.labeling.factories import make_worker
from tests.quality.reports.test_worker_confusion import finished_task, single_label

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client):
    manager = make_user(Role.MANAGER, mfa=True)
    mine, theirs = make_worker(), make_worker()
    make_team(managers=[manager], members=[mine])
    make_team(members=[theirs])
    project = single_label()
    finished_task(project, "cat", [(mine, "cat"), (theirs, "dog")])
    client.force_login(manager)
    return client, project, mine, theirs


def test_a_manager_sees_the_matrices_of_their_own_people_only(setup):
    client, project, mine, theirs = setup

    response = client.get(f"/api/v1/projects/{project.pk}/worker-confusions/")

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["user_id"] for r in results] == [mine.pk]
    assert theirs.pk not in {r["user_id"] for r in results}
    assert results[0]["rows"][0]["counts"] == [1, 0, 0]
    assert results[0]["rows"][0]["share"]["right"] == 1
    assert 0 < results[0]["rows"][0]["share"]["low"] < 1


def test_the_csv_export_holds_the_managers_people_only(setup):
    client, project, mine, theirs = setup

    response = client.get(f"/api/v1/projects/{project.pk}/worker-confusions/csv/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert f"\n{mine.pk},cat,cat,1," in body
    assert f"\n{theirs.pk}," not in body


def test_a_bad_reference_is_refused_naming_the_field(setup):
    client, project, _, _ = setup

    response = client.get(f"/api/v1/projects/{project.pk}/worker-confusions/?reference=vote")

    assert response.status_code == 400
    assert "reference" in response.json()["extra"]["fields"]


def test_customers_and_annotators_may_not_see_per_person_matrices(client, customer_client):
    project = single_label()
    client.force_login(make_worker())

    for who in (customer_client, client):
        response = who.get(f"/api/v1/projects/{project.pk}/worker-confusions/")
        assert response.status_code in (403, 404)


def test_the_matrices_take_a_fixed_number_of_queries(client):
    manager = make_user(Role.MANAGER, mfa=True)
    few, many = [make_worker()], [make_worker() for _ in range(6)]
    make_team(managers=[manager], members=few + many)
    small, large = single_label(), single_label()
    finished_task(small, "cat", [(p, "cat") for p in few])
    for _ in range(3):
        finished_task(large, "dog", [(p, "cat") for p in many])
    client.force_login(manager)
    counts = []
    for project in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert (
                client.get(f"/api/v1/projects/{project.pk}/worker-confusions/").status_code == 200
            )
        counts.append(len(queries))

    assert counts[0] == counts[1]
