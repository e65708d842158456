"""The re-aggregation API: managers queue a re-aggregation and read the changes it made; another
customer's project is not found and annotators are refused."""

import pytest

from labeling.models import Task
from labeling.models.work import Reaggregation
from tests.labeling.factories import add_tasks, make_customer, make_project, make_worker
from tests.labeling.services.test_reaggregation import NOW, ds_project, label_all, refresh_estimates

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(customer):
    """A customer's Dawid-Skene project whose split task came out dog before the estimates."""
    project = ds_project(customer=customer)
    [task_id] = add_tasks(project, 1)
    a, b, c = make_worker(), make_worker(), make_worker()
    for person, value in ((a, "cat"), (b, "dog"), (c, "dog")):
        label_all(project, person, {task_id: value})
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    return project, task_id


def test_a_manager_re_aggregates_and_reads_the_changes(
    customer_client, split, django_capture_on_commit_callbacks
):
    project, task_id = split

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(
            f"/api/v1/projects/{project.pk}/reaggregate/", {}, content_type="application/json"
        )
    listed = customer_client.get(f"/api/v1/projects/{project.pk}/reaggregations/")

    assert response.status_code == 202, response.json()
    assert response.json() == {"status": "queued", "include_final": True}
    assert Task.objects.get(pk=task_id).result == {"label": "cat"}
    [change] = listed.json()["results"]
    assert (change["task"], change["before_result"], change["after_result"]) == (
        task_id,
        {"label": "dog"},
        {"label": "cat"},
    )


def test_a_bad_include_final_is_refused_by_name(customer_client, split):
    project, _ = split

    response = customer_client.post(
        f"/api/v1/projects/{project.pk}/reaggregate/",
        {"include_final": "maybe"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "include_final" in response.json()["extra"]["fields"]


def test_a_project_whose_outcomes_ignore_the_estimates_is_refused(customer_client, customer):
    project = make_project(customer)

    response = customer_client.post(f"/api/v1/projects/{project.pk}/reaggregate/")

    assert response.status_code == 409


def test_another_customers_project_is_not_found_and_annotators_are_refused(
    customer_client, client, django_capture_on_commit_callbacks
):
    project = ds_project(customer=make_customer("Someone Else"))

    with django_capture_on_commit_callbacks(execute=True):
        foreign = customer_client.post(f"/api/v1/projects/{project.pk}/reaggregate/")
    listed = customer_client.get(f"/api/v1/projects/{project.pk}/reaggregations/")
    client.force_login(make_worker())
    annotator = client.post(f"/api/v1/projects/{project.pk}/reaggregate/")

    assert (foreign.status_code, listed.status_code) == (404, 404)
    assert annotator.status_code in (403, 404)
    assert not Reaggregation.objects.exists()


def test_the_progress_of_the_latest_run_is_read_by_api(
    customer_client, split, django_capture_on_commit_callbacks
):
    project, _ = split
    idle = customer_client.get(f"/api/v1/projects/{project.pk}/reaggregate/")

    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(
            f"/api/v1/projects/{project.pk}/reaggregate/", {}, content_type="application/json"
        )
    done = customer_client.get(f"/api/v1/projects/{project.pk}/reaggregate/")

    assert idle.status_code == 200 and idle.json()["state"] == "idle"
    body = done.json()
    assert (body["state"], body["done"], body["total"], body["progress"]) == (
        "finished",
        1,
        1,
        1.0,
    )
    assert (body["changed"], body["include_final"]) == (1, True)
    assert body["queued_at"] and body["started_at"] and body["finished_at"]


def test_a_queued_run_reports_queued_until_a_worker_takes_it(
    customer_client, split, django_capture_on_commit_callbacks, monkeypatch
):
    project, _ = split
    monkeypatch.setattr("labeling.services.reaggregation.job_enqueue", lambda *args: None)

    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(
            f"/api/v1/projects/{project.pk}/reaggregate/", {}, content_type="application/json"
        )
    body = customer_client.get(f"/api/v1/projects/{project.pk}/reaggregate/").json()

    assert (body["state"], body["total"], body["progress"]) == ("queued", None, None)


def test_another_customers_progress_is_not_found(customer_client):
    project = ds_project(customer=make_customer("Someone Else"))

    response = customer_client.get(f"/api/v1/projects/{project.pk}/reaggregate/")

    assert response.status_code == 404
