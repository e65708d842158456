"""A consensus project's tie rule through the projects API."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_customer_sets_and_reads_the_tie_rule(customer_client):
    response = customer_client.post(
        "/api/v1/projects/",
        {
            "name": "Ties to review",
            "task_type": "single_label",
            "labels": ["cat", "dog"],
            "pipeline": "consensus",
            "overlap": 2,
            "max_overlap": 3,
            "tie_rule": "review",
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["tie_rule"] == "review"


def test_an_unknown_tie_rule_is_refused_naming_the_field(customer_client):
    response = customer_client.post(
        "/api/v1/projects/",
        {"name": "X", "task_type": "single_label", "labels": ["a"], "tie_rule": "coin_flip"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "tie_rule" in response.json()["extra"]["fields"]


def test_uncertain_first_is_set_by_api_on_a_dynamic_overlap_project(customer_client):
    response = customer_client.post(
        "/api/v1/projects/",
        {
            "name": "Unsure first",
            "task_type": "single_label",
            "labels": ["cat", "dog"],
            "pipeline": "consensus",
            "overlap": 2,
            "max_overlap": 5,
            "aggregation_method": "dawid_skene",
            "confidence_threshold": 0.95,
            "queue_order": "uncertain_first",
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["queue_order"] == "uncertain_first"


def test_uncertain_first_on_a_fixed_overlap_project_is_refused_naming_queue_order(
    customer_client,
):
    response = customer_client.post(
        "/api/v1/projects/",
        {
            "name": "X",
            "task_type": "single_label",
            "labels": ["cat", "dog"],
            "pipeline": "consensus",
            "overlap": 3,
            "max_overlap": 3,
            "queue_order": "uncertain_first",
        },
        content_type="application/json",
    )

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["queue_order"]
