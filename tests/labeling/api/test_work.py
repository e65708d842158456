"""Annotators' claim / heartbeat / start / submit / skip / release through the API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.services.imports.batches import tasks_create
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker_client(client):
    client.force_login(make_worker())
    return client


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def test_claim_returns_the_task_the_lease_and_the_instructions(worker_client, project):
    tasks_create(
        project=project,
        tasks=[{"text": "a cat sat", "meta": {"internal": "hidden-value-123"}}],
        actor=None,
    )

    response = post(worker_client, f"/api/v1/projects/{project.pk}/claim/")

    assert response.status_code == 200
    body = response.json()
    assert body["task"]["data"] == {"text": "a cat sat"}
    assert body["instructions"]["version"] == 1
    assert "<strong>animal</strong>" in body["instructions"]["html"]
    assert body["lease"]["expires_at"]
    assert "hidden-value-123" not in response.content.decode()
    assert "meta" not in body["task"]


def test_full_cycle_claim_heartbeat_submit(worker_client, project):
    add_tasks(project, 1)
    lease_id = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"]["id"]

    beat = post(worker_client, f"/api/v1/leases/{lease_id}/heartbeat/")
    done = post(worker_client, f"/api/v1/leases/{lease_id}/submit/", {"result": {"label": "dog"}})

    assert beat.status_code == 200
    assert done.status_code == 201
    assert done.json()["task_status"] == "completed"


def test_starting_a_reserved_task_answers_its_extended_lease(worker_client, project):
    add_tasks(project, 2)
    post(worker_client, f"/api/v1/projects/{project.pk}/claim/")
    ahead = post(worker_client, f"/api/v1/projects/{project.pk}/claim/?prefetch=1").json()["lease"]

    started = post(worker_client, f"/api/v1/leases/{ahead['id']}/start/")

    assert started.status_code == 200
    assert started.json()["id"] == ahead["id"]
    assert started.json()["active_seconds"] == 0
    assert started.json()["expires_at"] >= ahead["expires_at"]


def test_a_bad_answer_names_the_field(worker_client, project):
    add_tasks(project, 1)
    lease_id = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"]["id"]

    response = post(
        worker_client, f"/api/v1/leases/{lease_id}/submit/", {"result": {"label": "zebra"}}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "result.label" in response.json()["extra"]["fields"]


def test_a_span_boundary_inside_an_emoji_sequence_is_refused(worker_client):
    project = make_project(task_type="ner", labels=["PER", "LOC"])
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # five code points, one character
    tasks_create(project=project, tasks=[{"text": f"Ana {family} Bob"}], actor=None)
    lease_id = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"]["id"]
    on_the_joiner = {"spans": [{"start": 5, "end": 9, "label": "PER"}]}
    whole = {"spans": [{"start": 4, "end": 9, "label": "PER"}]}

    refused = post(worker_client, f"/api/v1/leases/{lease_id}/submit/", {"result": on_the_joiner})
    saved = post(worker_client, f"/api/v1/leases/{lease_id}/submit/", {"result": whole})

    assert refused.status_code == 400
    assert "cuts a character in two" in refused.json()["extra"]["fields"]["result.spans[0]"][0]
    assert saved.status_code == 201


def test_no_work_is_a_404_with_the_reason(worker_client, project):
    response = post(worker_client, f"/api/v1/projects/{project.pk}/claim/")

    assert response.status_code == 404
    assert response.json()["code"] == "no_work_available"
    assert response.json()["extra"]["reason"] == "nothing_left"


def test_skip_and_release(worker_client, project):
    add_tasks(project, 2)
    first = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"]["id"]
    skipped = post(worker_client, f"/api/v1/leases/{first}/skip/", {"reason": "unreadable"})
    second = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"]["id"]
    released = post(worker_client, f"/api/v1/leases/{second}/release/")

    assert skipped.json()["state"] == "skipped"
    assert released.json()["state"] == "released"


def test_someone_elses_lease_is_not_found(client, worker_client, project):
    add_tasks(project, 1)
    lease_id = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"]["id"]
    client.force_login(make_worker())

    response = post(client, f"/api/v1/leases/{lease_id}/submit/", {"result": {"label": "cat"}})

    assert response.status_code == 404


def test_work_endpoints_refuse_customers(client, project):
    from tests.labeling.factories import make_customer_user

    add_tasks(project, 1)
    client.force_login(make_customer_user(project.customer))

    assert post(client, f"/api/v1/projects/{project.pk}/claim/").status_code == 404


def test_claim_and_submit_query_counts_do_not_grow_with_the_project(worker_client, project):
    from labeling.selectors import instructions_current

    add_tasks(project, 3)
    project.refresh_from_db()
    instructions_current(project)  # the instructions are cached after the first claim anyway
    # A person's first claim in a project creates their state there, once.
    first = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"]["id"]
    post(worker_client, f"/api/v1/leases/{first}/submit/", {"result": {"label": "cat"}})
    with CaptureQueriesContext(connection) as small_claim:
        lease_id = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"][
            "id"
        ]
    with CaptureQueriesContext(connection) as small_submit:
        post(worker_client, f"/api/v1/leases/{lease_id}/submit/", {"result": {"label": "cat"}})
    add_tasks(project, 200)

    with CaptureQueriesContext(connection) as big_claim:
        lease_id = post(worker_client, f"/api/v1/projects/{project.pk}/claim/").json()["lease"][
            "id"
        ]
    with CaptureQueriesContext(connection) as big_submit:
        post(worker_client, f"/api/v1/leases/{lease_id}/submit/", {"result": {"label": "cat"}})

    assert len(big_claim) == len(small_claim)
    assert len(big_submit) == len(small_submit)
