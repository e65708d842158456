"""The quality API: agreement, people and confusion estimates, scoped to the project's customer."""

import pytest

from accounts.models import Role
from labeling.models import WorkerConfusion
from tests.factories import make_user
from tests.labeling.factories import make_customer, make_project, make_worker
from tests.quality.factories import seed_consensus

pytestmark = pytest.mark.django_db

ENDPOINTS = ("agreement", "people", "confusions")


def test_the_agreement_of_a_project_and_of_a_batch(customer_client, seeded):
    project = seeded.project

    whole = customer_client.get(f"/api/v1/projects/{project.pk}/agreement/")
    batch = customer_client.get(
        f"/api/v1/projects/{project.pk}/agreement/?batch={seeded.batches[1].pk}"
    )

    assert whole.status_code == 200, whole.json()
    body = whole.json()
    assert body["fleiss_kappa"] == pytest.approx(11 / 41)
    assert (body["fleiss_raters"], body["fleiss_tasks"]) == (3, 4)
    assert body["alpha"] == pytest.approx(29 / 120)
    assert body["alpha_label"] == "Krippendorff's alpha (nominal)"
    assert body["pairwise_kappa"] is None  # no pair has the 10 tasks in common a kappa needs
    assert body["pairwise_note"].startswith("n/a")
    assert (body["batch_id"], body["is_capped"]) == (None, False)
    assert batch.json()["fleiss_kappa"] == pytest.approx(-1.0)
    assert batch.json()["batch_id"] == seeded.batches[1].pk


def test_a_batch_of_another_project_is_not_found_and_a_bad_one_is_refused(customer_client, seeded):
    other = seed_consensus()

    foreign = customer_client.get(
        f"/api/v1/projects/{seeded.project.pk}/agreement/?batch={other.batches[0].pk}"
    )
    bad = customer_client.get(f"/api/v1/projects/{seeded.project.pk}/agreement/?batch=first")

    assert foreign.status_code == 404
    assert bad.status_code == 400
    assert bad.json()["extra"]["fields"] == {"batch": ["An import batch id."]}


def test_people_are_paginated_sorted_and_shown_by_number_to_customers(customer_client, seeded):
    a, b, c = (seeded.people[n].pk for n in "ABC")

    response = customer_client.get(
        f"/api/v1/projects/{seeded.project.pk}/people/?sort=agreement&page_size=2"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["user_id"] for row in body["results"]] == [c, a]
    first = body["results"][0]
    assert first["agreement_share"] == pytest.approx(2 / 3)
    assert first["agreement_kappa"] == pytest.approx(0.4)
    assert (first["labels"], first["name"]) == (4, None)
    assert body["next"] is not None and b not in [row["user_id"] for row in body["results"]]


def test_managers_see_people_by_name(client, seeded):
    client.force_login(make_user(Role.MANAGER, mfa=True))

    response = client.get(f"/api/v1/projects/{seeded.project.pk}/people/?sort=person")

    names = [row["name"] for row in response.json()["results"]]
    assert names == [seeded.people[n].email for n in "ABC"]


def test_refreshing_the_confusions_queues_an_estimate_that_lists_each_person(
    customer_client, seeded
):
    url = f"/api/v1/projects/{seeded.project.pk}/confusions/"

    queued = customer_client.post(url)
    listed = customer_client.get(url)

    assert queued.status_code == 202
    assert queued.json() == {"status": "queued"}
    body = listed.json()
    # Five labels or more make an estimate: A and B have five, C four.
    assert body["count"] == 2
    assert {row["user_id"] for row in body["results"]} == {
        seeded.people["A"].pk,
        seeded.people["B"].pk,
    }
    assert body["results"][0]["classes"] == ["cat", "dog", "bird"]
    assert len(body["results"][0]["matrix"]) == 3
    assert WorkerConfusion.objects.filter(project=seeded.project).count() == 2


def test_confusions_of_a_standard_project_are_refused(customer_client, customer):
    project = make_project(customer)

    response = customer_client.post(f"/api/v1/projects/{project.pk}/confusions/")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_another_customers_project_is_not_found(customer_client, endpoint):
    project = make_project(make_customer("Someone Else"))

    read = customer_client.get(f"/api/v1/projects/{project.pk}/{endpoint}/")

    assert read.status_code == 404


def test_another_customer_cannot_queue_an_estimate(customer_client):
    project = seed_consensus(make_customer("Someone Else")).project

    response = customer_client.post(f"/api/v1/projects/{project.pk}/confusions/")

    assert response.status_code == 404
    assert not WorkerConfusion.objects.exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_annotators_do_not_reach_quality_figures(client, seeded, endpoint):
    client.force_login(seeded.people["A"])

    response = client.get(f"/api/v1/projects/{seeded.project.pk}/{endpoint}/")

    assert response.status_code == 404


def test_visitors_must_sign_in(client, seeded):
    response = client.get(f"/api/v1/projects/{seeded.project.pk}/agreement/")

    assert response.status_code == 401


def test_a_fresh_annotator_cannot_queue_an_estimate(client, seeded):
    client.force_login(make_worker())

    response = client.post(f"/api/v1/projects/{seeded.project.pk}/confusions/")

    assert response.status_code == 404
    assert not WorkerConfusion.objects.exists()
