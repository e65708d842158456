"""Projects, tasks and imports through the API, scoped to their customer."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from labeling.models import Project
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_customer, make_project

pytestmark = pytest.mark.django_db


def test_a_customer_creates_a_sentiment_project_from_the_preset(customer_client, customer):
    response = customer_client.post(
        "/api/v1/projects/",
        {
            "name": "Reviews",
            "preset": "sentiment",
            "instructions": "# Read the review\nThen **choose**.",
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["customer"] == customer.pk
    assert body["task_type"] == "single_label"
    assert [label["name"] for label in body["labels"]] == ["positive", "neutral", "negative"]
    assert body["instructions_version"] == 1
    project = Project.objects.get(pk=body["id"])
    assert "<strong>choose</strong>" in project.instruction_versions.get().body_html


def test_bad_labels_are_refused_naming_the_entry(customer_client):
    response = customer_client.post(
        "/api/v1/projects/",
        {
            "name": "X",
            "task_type": "single_label",
            "labels": [{"name": "a", "hotkey": "1"}, {"name": "b", "hotkey": "1"}],
        },
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {
        "labels[1].hotkey": ["The hotkey '1' is used twice."]
    }
    assert not Project.objects.exists()


def test_consensus_needs_at_least_two_annotations(customer_client):
    response = customer_client.post(
        "/api/v1/projects/",
        {"name": "X", "task_type": "ner", "labels": ["PER"], "pipeline": "consensus", "overlap": 1},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "overlap" in response.json()["extra"]["fields"]


def test_a_customer_never_sees_another_customers_project(customer_client):
    theirs = make_project(make_customer("Rival"))
    add_tasks(theirs, 1)
    task_id = theirs.tasks.get().pk

    assert customer_client.get(f"/api/v1/projects/{theirs.pk}/").status_code == 404
    assert (
        customer_client.patch(
            f"/api/v1/projects/{theirs.pk}/", {"name": "mine"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert customer_client.get(f"/api/v1/projects/{theirs.pk}/tasks/").status_code == 404
    assert customer_client.get(f"/api/v1/tasks/{task_id}/").status_code == 404
    assert customer_client.get("/api/v1/projects/").json()["count"] == 0


def test_a_manager_creates_a_project_for_a_named_customer(client, customer):
    client.force_login(make_user(Role.MANAGER, mfa=True))

    missing = client.post(
        "/api/v1/projects/", {"name": "P", "preset": "sentiment"}, content_type="application/json"
    )
    made = client.post(
        "/api/v1/projects/",
        {"name": "P", "preset": "sentiment", "customer": customer.pk},
        content_type="application/json",
    )

    assert missing.status_code == 400
    assert "customer" in missing.json()["extra"]["fields"]
    assert made.status_code == 201


def test_annotators_cannot_create_or_list_projects(client):
    client.force_login(make_user(Role.ANNOTATOR))

    assert (
        client.post(
            "/api/v1/projects/",
            {"name": "P", "preset": "sentiment"},
            content_type="application/json",
        ).status_code
        == 403
    )
    assert client.get("/api/v1/projects/").json()["count"] == 0


def test_task_type_and_overlap_are_fixed_once_tasks_exist(customer_client, customer):
    project = make_project(customer, pipeline="consensus", overlap=2, max_overlap=2)
    add_tasks(project, 1)

    response = customer_client.patch(
        f"/api/v1/projects/{project.pk}/", {"overlap": 3}, content_type="application/json"
    )
    paused = customer_client.patch(
        f"/api/v1/projects/{project.pk}/", {"status": "paused"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "project_locked"
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"


def test_publishing_instructions_makes_a_new_version(customer_client, customer):
    project = make_project(customer)

    customer_client.post(
        f"/api/v1/projects/{project.pk}/instructions/",
        {"body_markdown": "v1"},
        content_type="application/json",
    )
    customer_client.post(
        f"/api/v1/projects/{project.pk}/instructions/",
        {"body_markdown": "v2 <script>x</script>"},
        content_type="application/json",
    )
    versions = customer_client.get(f"/api/v1/projects/{project.pk}/instructions/").json()

    assert [v["version"] for v in versions] == [2, 1]
    assert "<script>" not in versions[0]["body_html"]


def test_posting_tasks_by_api_stores_all_or_reports_each_bad_one(customer_client, customer):
    project = make_project(customer)

    bad = customer_client.post(
        f"/api/v1/projects/{project.pk}/tasks/",
        {
            "tasks": [
                {"text": "fine"},
                {"text": ""},
                {"text": "ok", "pre_annotation": {"label": "horse"}},
            ]
        },
        content_type="application/json",
    )
    good = customer_client.post(
        f"/api/v1/projects/{project.pk}/tasks/",
        {"tasks": [{"text": "one", "external_id": "a"}, {"text": "two", "external_id": "b"}]},
        content_type="application/json",
    )
    again = customer_client.post(
        f"/api/v1/projects/{project.pk}/tasks/",
        {"tasks": [{"text": "one", "external_id": "a"}]},
        content_type="application/json",
    )

    assert bad.status_code == 400
    assert set(bad.json()["extra"]["fields"]) == {
        "tasks[1].data.text",
        "tasks[2].pre_annotation.label",
    }
    assert good.status_code == 201
    assert good.json()["created"] == 2
    assert again.json() == {"created": 0, "gold": 0, "duplicates": 1, "lines_read": 1}
    assert project.tasks.count() == 2


def test_posting_only_gold_tasks_by_api_counts_them_as_created(customer_client, customer):
    project = make_project(customer)

    response = customer_client.post(
        f"/api/v1/projects/{project.pk}/tasks/",
        {
            "tasks": [
                {"text": "a", "gold": {"label": "cat"}},
                {"text": "b", "gold": {"label": "dog"}},
            ]
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json() == {"created": 2, "gold": 2, "duplicates": 0, "lines_read": 2}
    assert project.tasks.filter(is_gold=True).count() == 2
    project.refresh_from_db()
    assert project.tasks_total == 0


def test_task_list_filters_and_does_a_constant_number_of_queries(customer_client, customer):
    project = make_project(customer)
    add_tasks(project, 3)
    with CaptureQueriesContext(connection) as few:
        customer_client.get(f"/api/v1/projects/{project.pk}/tasks/")
    add_tasks(project, 30)

    with CaptureQueriesContext(connection) as many:
        response = customer_client.get(f"/api/v1/projects/{project.pk}/tasks/", {"status": "open"})

    assert response.json()["count"] == 33
    assert len(many) == len(few)


def test_task_detail_shows_meta_and_annotations_to_the_customer(customer_client, customer):
    from labeling.services.imports.batches import tasks_create

    project = make_project(customer)
    tasks_create(project=project, tasks=[{"text": "t", "meta": {"row": 7}}], actor=None)

    body = customer_client.get(f"/api/v1/tasks/{project.tasks.get().pk}/").json()

    assert body["meta"] == {"row": 7}
    assert body["annotations"] == []
