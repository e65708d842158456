"""POST /api/v1/people/{id}/retrain/: a manager sends a person of their teams back to training."""

from __future__ import annotations

import pytest

from accounts.models import Role
from quality.models import RuleAction
from tests.factories import make_team, make_user
from tests.labeling.factories import make_worker
from tests.quality.factories import managed, state_of

pytestmark = pytest.mark.django_db


def url(person) -> str:
    return f"/api/v1/people/{person.pk}/retrain/"


@pytest.fixture
def person(manager):
    worker = make_worker()
    managed(manager, worker)
    return worker


def test_a_manager_sends_a_person_back_to_training(manager_client, person, project):
    response = manager_client.post(url(person), {"project": project.pk, "reason": "Loose boxes."})

    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "require_retraining"
    assert body["person"]["id"] == person.pk
    assert body["evidence"]["manager"]["reason"] == "Loose boxes."
    assert state_of(person, project).needs_retraining is True


def test_someone_outside_the_managers_teams_is_not_found(manager_client, project):
    stranger = make_worker()
    make_team("Elsewhere", members=[stranger])

    response = manager_client.post(url(stranger), {"project": project.pk, "reason": "Why."})

    assert response.status_code == 404
    assert not RuleAction.objects.filter(user=stranger).exists()


def test_a_missing_reason_is_refused_naming_it(manager_client, person, project):
    response = manager_client.post(url(person), {"project": project.pk, "reason": ""})

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["reason"]


def test_a_second_retraining_in_force_is_a_conflict(manager_client, person, project):
    manager_client.post(url(person), {"project": project.pk, "reason": "Why."})

    response = manager_client.post(url(person), {"project": project.pk, "reason": "Again."})

    assert response.status_code == 409
    assert response.json()["code"] == "already_retraining"


def test_an_annotator_may_not_retrain(client, person, project):
    client.force_login(make_user(Role.ANNOTATOR))

    response = client.post(url(person), {"project": project.pk, "reason": "Why."})

    assert response.status_code == 403
