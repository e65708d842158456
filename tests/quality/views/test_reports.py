"""A project's Quality page: agreement, people, reviewers, confusion estimates and the gold set."""

import re
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from labeling.models import Task, WorkerConfusion
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.submit import lease_submit
from quality.reports import project as figures
from tests.factories import make_user
from tests.labeling.factories import (
    add_tasks,
    make_customer,
    make_customer_user,
    make_project,
    make_worker,
)
from tests.quality.factories import seed_consensus, seed_reviewed

pytestmark = pytest.mark.django_db


def _pair_rows(html: str) -> list[str]:
    table = html.split('aria-labelledby="h-pairs"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>.*?</tr>", table, re.S)


def test_the_quality_page_shows_agreement_and_each_annotator(customer_client, customer):
    seeded = seed_consensus(customer)

    response = customer_client.get(f"/projects/{seeded.project.pk}/quality/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "0.268" in html  # Fleiss' kappa 11/41
    assert "0.242" in html  # Krippendorff's alpha 29/120
    assert "Over 4 tasks with 3 annotations each" in html
    assert [p.user_id for p, _ in response.context["people"]] == [
        seeded.people[n].pk for n in "ABC"
    ]
    assert seeded.people["A"].email not in html  # customers see workers by number


def test_the_quality_page_names_people_for_managers_and_numbers_them_for_customers(
    client, customer, monkeypatch
):
    seeded = seed_consensus(customer)  # 4 tasks: pairs with 2 in common are shown here
    monkeypatch.setattr(
        figures, "project_quality", partial(figures.project_quality, min_pair_items=2)
    )
    person_a = seeded.people["A"]
    client.force_login(make_customer_user(customer))
    for_customer = client.get(f"/projects/{seeded.project.pk}/quality/").content.decode()
    client.force_login(make_user(Role.MANAGER, mfa=True))

    for_manager = client.get(f"/projects/{seeded.project.pk}/quality/").content.decode()

    label = person_a.full_name or person_a.email
    assert f'{label} <small class="muted">#{person_a.pk}</small>' in for_manager
    assert any(label in row for row in _pair_rows(for_manager))
    assert all("Person #" not in row for row in _pair_rows(for_manager))
    assert f"Person #{person_a.pk}" in for_customer
    assert any(f"Person #{person_a.pk}" in row for row in _pair_rows(for_customer))
    assert label not in for_customer


def test_picking_a_batch_adds_its_column_and_scopes_the_people(customer_client, customer):
    seeded = seed_consensus(customer)
    batch = seeded.batches[1].pk

    response = customer_client.get(f"/projects/{seeded.project.pk}/quality/?batch={batch}")

    html = response.content.decode()
    assert f"Batch #{batch}" in html
    assert "-1.000" in html
    assert {p.user_id for p, _ in response.context["people"]} == {
        seeded.people["A"].pk,
        seeded.people["B"].pk,
    }


def test_the_people_table_sorts_by_the_column_asked_for(customer_client, customer):
    seeded = seed_consensus(customer)

    response = customer_client.get(f"/projects/{seeded.project.pk}/quality/?sort=kappa")

    order = [p.user_id for p, _ in response.context["people"]]
    assert order == [seeded.people[n].pk for n in "CAB"]
    kappa = next(c for c in response.context["columns"] if c["key"] == "kappa")
    assert kappa["state"] == "ascending"
    assert "sort=-kappa" in kappa["url"]


def test_the_quality_page_shows_reviewers_gold_and_names_for_managers(client):
    seeded = seed_reviewed()
    client.force_login(make_user(Role.MANAGER, mfa=True))

    response = client.get(f"/projects/{seeded.project.pk}/quality/")

    html = response.content.decode()
    reviewers = {p.user_id: p for p, _ in response.context["reviewers"]}
    assert reviewers[seeded.people["R1"].pk].reviewer_accuracy == 0.5
    assert seeded.people["R1"].email in html
    assert [row.task_id for row, _ in response.context["gold_rows"]] == seeded.tasks[1::-1]
    assert "Retire<span" in html


def test_the_quality_page_does_a_constant_number_of_queries(customer_client, customer):
    small = seed_consensus(customer)
    gold_answer_set(
        task=Task.objects.get(pk=add_tasks(small.project, 1)[-1]),
        result={"label": "cat"},
        actor=None,
    )
    with CaptureQueriesContext(connection) as few:
        customer_client.get(f"/projects/{small.project.pk}/quality/")
    more = add_tasks(small.project, 4)[-4:]
    for task_id in more[:2]:
        gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "dog"}, actor=None)
    for _ in range(3):
        worker = make_worker()
        for _ in range(2):
            lease = slot_claim_next(project=small.project, user=worker).lease
            lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})
    customer_client.post(f"/projects/{small.project.pk}/quality/confusions/")

    with CaptureQueriesContext(connection) as many:
        response = customer_client.get(f"/projects/{small.project.pk}/quality/")

    assert len(response.context["people"]) == 6
    assert len(response.context["gold_rows"]) == 3
    assert response.context["confusions"]
    assert len(many) == len(few)


def test_refreshing_the_confusions_from_the_page_stores_estimates(customer_client, customer):
    seeded = seed_consensus(customer)

    response = customer_client.post(f"/projects/{seeded.project.pk}/quality/confusions/")

    assert response.status_code == 302
    assert response["Location"].endswith("/quality/#confusions")
    assert WorkerConfusion.objects.filter(project=seeded.project).count() == 2


def test_another_customers_quality_page_is_not_found_and_annotators_are_refused(
    customer_client, client
):
    project = make_project(make_customer("Someone Else"))

    foreign = customer_client.get(f"/projects/{project.pk}/quality/")
    refresh = customer_client.post(f"/projects/{project.pk}/quality/confusions/")
    client.force_login(make_worker())
    annotator = client.get(f"/projects/{project.pk}/quality/")

    assert (foreign.status_code, refresh.status_code, annotator.status_code) == (404, 404, 403)
