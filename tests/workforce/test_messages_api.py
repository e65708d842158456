"""POST /api/v1/people/{id}/message/: a manager's message to a person of their teams."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.factories import make_team, make_user
from workforce.models import Notification
from workforce.services import messages as message_services

pytestmark = pytest.mark.django_db


def url(person) -> str:
    return f"/api/v1/people/{person.pk}/message/"


@pytest.fixture(autouse=True)
def fixed_minute(monkeypatch):
    monkeypatch.setattr(message_services, "_now", lambda: 1_800_000_000.0)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_sends_a_message(manager_client, make_member):
    member = make_member()

    response = manager_client.post(url(member), {"subject": "Hi", "body": "Hello."})

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["title"]) == ("message", "Hi")
    assert Notification.objects.get(pk=body["id"]).user == member


def test_someone_outside_the_managers_teams_is_not_found(manager_client):
    stranger = make_user(Role.ANNOTATOR)
    make_team("Elsewhere", members=[stranger])

    response = manager_client.post(url(stranger), {"subject": "Hi", "body": "Hello."})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Notification.objects.filter(user=stranger).exists()


def test_an_empty_body_is_refused_naming_the_field(manager_client, make_member):
    member = make_member()

    response = manager_client.post(url(member), {"subject": "Hi", "body": ""})

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["extra"]["fields"]) == ["body"]


def test_past_the_limit_the_answer_is_429(manager_client, make_member, settings):
    settings.QUORUM_MANAGER_MESSAGES_PER_MINUTE = 1
    member = make_member()
    assert manager_client.post(url(member), {"subject": "1", "body": "x"}).status_code == 201

    response = manager_client.post(url(member), {"subject": "2", "body": "x"})

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert Notification.objects.filter(user=member).count() == 1


def test_an_annotator_may_not_message(client, make_member):
    member = make_member()
    client.force_login(make_user(Role.ANNOTATOR))

    response = client.post(url(member), {"subject": "Hi", "body": "Hello."})

    assert response.status_code == 403
