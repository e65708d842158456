"""The calibration endpoint: figures measured on gold, scoped to the project's customer."""

import pytest

from tests.labeling.factories import make_customer, make_project, make_worker
from tests.quality.reports.test_calibration import consensus, gold_task

pytestmark = pytest.mark.django_db


def test_the_calibration_of_a_project_measured_on_gold(customer_client, customer):
    project = consensus(customer=customer)
    people = [make_worker() for _ in range(3)]
    gold_task(project, "cat", ["cat", "cat", "cat"], people)
    gold_task(project, "dog", ["cat", "cat", "dog"], people)

    response = customer_client.get(f"/api/v1/projects/{project.pk}/calibration/")

    assert response.status_code == 200
    body = response.json()
    assert body["applies"] is True
    assert body["confidence_method"] == "vote_share"
    assert (body["gold_tasks"], body["measured"], body["right"]) == (2, 2, 1)
    assert body["ece"] == pytest.approx(1 / 3, abs=1e-6)  # bin 0.6: gap 2/3, weight 1/2
    assert body["is_warning"] is True
    assert len(body["bins"]) == 10


def test_another_customers_calibration_is_not_found(customer_client):
    project = make_project(make_customer("Someone Else"))

    response = customer_client.get(f"/api/v1/projects/{project.pk}/calibration/")

    assert response.status_code == 404
