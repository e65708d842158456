"""The Quality page's re-aggregation button: a manager's project is re-aggregated; another
customer's is not found."""

import pytest

from labeling.models import Task
from labeling.models.work import Reaggregation
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
