"""A successful answer for each operation no other test answers successfully.

The conftest check (tests/openapi_conformance.py) holds every answer to the OpenAPI schema, so an
operation is only proven to answer as documented once some test gets its successful answer. These
tests get it for the operations the rest of the suite only reaches with errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.erasure import erasure_request_create
from accounts.models import Role
from core.models import AuditEvent
from labeling.services.gold import gold_answer_set
from quality.services.actions import rule_action_appeal
from quality.services.evaluation import rules_evaluate
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_customer, make_project, make_worker
from tests.quality.factories import GOLD_SPAM, gold_record, spam_rule
from workforce.services import skill_create

pytestmark = pytest.mark.django_db


@dataclass
class World:
    ids: dict[str, int]


@pytest.fixture
def admin():
    return make_user(Role.ADMIN, mfa=True)


@pytest.fixture
def world(admin) -> World:
    customer = make_customer()
    project = make_project(customer)
    task_id, gold_id = add_tasks(project, 2)
    gold_answer_set(task=project.tasks.get(pk=gold_id), result={"label": "cat"}, actor=admin)
    skill_create(slug="documented", name="Documented", description="", actor=admin)
    person = make_worker()
    rule = spam_rule(admin)
    gold_record(project, person, GOLD_SPAM)
    [action] = rules_evaluate(user=person, project=project)
    appeal = rule_action_appeal(action=action, user=person, reason="Not a bot.")
    erasure = erasure_request_create(user=person, requested_by=person)
    event = AuditEvent.objects.order_by("pk").first()
    assert event is not None
    return World(
        ids={
            "customer": customer.pk,
            "project": project.pk,
            "task": task_id,
            "gold": gold_id,
            "person": person.pk,
            "rule": rule.pk,
            "appeal": appeal.pk,
            "erasure": erasure.pk,
            "event": event.pk,
        }
    )


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/customers/",
        "/api/v1/customers/{customer}/",
        "/api/v1/users/{person}/",
        "/api/v1/skills/",
        "/api/v1/audit-events/{event}/",
        "/api/v1/erasure-requests/",
        "/api/v1/erasure-requests/{erasure}/",
        "/api/v1/projects/{project}/",
        "/api/v1/projects/{project}/imports/",
        "/api/v1/quality-rules/{rule}/",
        "/api/v1/appeals/{appeal}/",
        "/api/v1/tasks/{gold}/gold/",
    ],
)
def test_an_administrator_reads_it_as_documented(admin_client, world, url):
    response = admin_client.get(url.format(**world.ids))

    assert response.status_code == 200, response.content


def test_an_administrator_creates_a_customer_as_documented(admin_client):
    response = admin_client.post(
        "/api/v1/customers/", {"name": "Acme", "slug": "acme"}, content_type="application/json"
    )

    assert response.status_code == 201, response.content


def test_an_administrator_grants_and_revokes_a_role_as_documented(admin_client, world):
    roles = f"/api/v1/users/{world.ids['person']}/roles/"

    granted = admin_client.post(
        roles, {"role": "reviewer", "level": 1}, content_type="application/json"
    )
    revoked = admin_client.delete(f"{roles}reviewer/")

    assert (granted.status_code, revoked.status_code) == (201, 204), granted.content


def test_an_administrator_opens_an_erasure_request_as_documented(admin_client):
    person = make_user(Role.ANNOTATOR)

    response = admin_client.post(
        "/api/v1/erasure-requests/",
        {"user": person.pk, "confirm": True},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content


def test_an_administrator_sets_and_retires_a_gold_answer_as_documented(admin_client, world):
    gold = f"/api/v1/tasks/{world.ids['task']}/gold/"

    put = admin_client.put(gold, {"result": {"label": "dog"}}, content_type="application/json")
    retired = admin_client.delete(gold)

    assert (put.status_code, retired.status_code) == (200, 200), put.content
    assert retired.json()["is_retired"] is True
