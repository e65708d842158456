"""The Quality page's re-aggregation button: a manager's project is re-aggregated; another
customer's is not found."""

import pytest

from labeling.models import Task
from labeling.models.work import Reaggregation
from labeling.services.reaggregation import project_reaggregate
from tests.labeling.factories import add_tasks, make_customer, make_worker
from tests.labeling.services.test_reaggregation import NOW, ds_project, label_all, refresh_estimates

pytestmark = pytest.mark.django_db


def test_the_button_re_aggregates_the_project(
    customer_client, customer, django_capture_on_commit_callbacks
):
    project = ds_project(customer=customer)
    [task_id] = add_tasks(project, 1)
    a, b, c = make_worker(), make_worker(), make_worker()
    for person, value in ((a, "cat"), (b, "dog"), (c, "dog")):
        label_all(project, person, {task_id: value})
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    page = customer_client.get(f"/projects/{project.pk}/quality/")

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(f"/projects/{project.pk}/quality/reaggregate/")

    assert f"/projects/{project.pk}/quality/reaggregate/" in page.content.decode()
    assert response.status_code == 302
    assert Task.objects.get(pk=task_id).result == {"label": "cat"}
    assert Reaggregation.objects.filter(task_id=task_id).count() == 1


def test_another_customers_project_is_not_found(customer_client):
    project = ds_project(customer=make_customer("Someone Else"))

    response = customer_client.post(f"/projects/{project.pk}/quality/reaggregate/")

    assert response.status_code == 404


def test_the_quality_page_shows_the_progress_and_polls_while_it_runs(
    customer_client, customer, django_capture_on_commit_callbacks, monkeypatch
):
    project = ds_project(customer=customer)
    [task_id] = add_tasks(project, 1)
    a, b, c = make_worker(), make_worker(), make_worker()
    for person, value in ((a, "cat"), (b, "dog"), (c, "dog")):
        label_all(project, person, {task_id: value})
    refresh_estimates(project, {a: 0.99, b: 0.4, c: 0.4}, NOW)
    monkeypatch.setattr("labeling.services.reaggregation.job_enqueue", lambda *args: None)
    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(f"/projects/{project.pk}/quality/reaggregate/")

    queued = customer_client.get(f"/projects/{project.pk}/quality/").content.decode()
    project_reaggregate(project=project, include_final=True)
    finished = customer_client.get(
        f"/projects/{project.pk}/quality/reaggregate/progress/"
    ).content.decode()

    poll = f'hx-get="/projects/{project.pk}/quality/reaggregate/progress/"'
    assert poll in queued and "waiting for a worker" in queued
    assert poll not in finished
    assert "1 of 1 tasks examined (100%)" in finished
    assert "1 changed" in finished
