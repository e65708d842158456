"""The actions next to the evidence on a person's page: message them and send them back to
training. Scoped as the page (404 for a person outside the manager's teams), each shows its
success message on the person's page, and bad input comes back next to the field."""

from __future__ import annotations

import pytest

from accounts.models import Role
from quality.models import RuleAction
from tests.dashboards.people_data import make_world
from tests.factories import make_user
from tests.quality.factories import state_of
from workforce.models import Notification
from workforce.services import messages as message_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr(message_services, "_now", lambda: 1_800_000_000.0)
    return make_world()


def url(person, action=""):
    return f"/dashboards/people/{person.pk}/{action}"


def test_the_person_page_offers_both_forms(client, world):
    client.force_login(world.manager)

    page = client.get(url(world.a)).content.decode()

    assert 'id="message-form"' in page
    assert f'action="/dashboards/people/{world.a.pk}/message/"' in page
    assert 'id="retrain-form"' in page
    assert f'<option value="{world.p1.pk}">' in page


def test_a_manager_messages_a_person_and_sees_it_sent(client, world):
    client.force_login(world.manager)

    response = client.post(
        url(world.a, "message/"),
        {"message-subject": "Your boxes", "message-body": "Tighter, please."},
        follow=True,
    )

    assert response.redirect_chain == [(url(world.a), 302)]
    assert f"Message sent to {world.a.email}." in response.content.decode()
    told = Notification.objects.get(user=world.a, kind="message")
    assert told.title == "Your boxes"


def test_a_manager_sends_a_person_back_to_training_and_sees_it_done(client, world):
    client.force_login(world.manager)

    response = client.post(
        url(world.a, "retrain/"),
        {"retrain-project": world.p1.pk, "retrain-reason": "Gold accuracy fell."},
        follow=True,
    )

    assert response.redirect_chain == [(url(world.a), 302)]
    assert "is sent back to training" in response.content.decode()
    assert state_of(world.a, world.p1).needs_retraining is True
    # The action is listed with the evidence on the page the manager is back on.
    assert "Sent back to training by a manager" in response.content.decode()
    assert "A manager's decision: “Gold accuracy fell.”" in response.content.decode()


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("message/", {"message-subject": "Hi", "message-body": "Hello."}),
        ("retrain/", {"retrain-project": "", "retrain-reason": "Why."}),
    ],
)
def test_a_person_outside_the_managers_teams_is_not_found(client, world, action, data):
    client.force_login(world.manager)

    response = client.post(url(world.c, action), data)

    assert response.status_code == 404
    assert not Notification.objects.filter(user=world.c).exclude(kind="account_activated")
    assert not RuleAction.objects.filter(user=world.c).exists()


@pytest.mark.parametrize("action", ["message/", "retrain/"])
def test_an_annotator_may_not_post_the_actions(client, world, action):
    client.force_login(make_user(Role.ANNOTATOR))

    assert client.post(url(world.a, action), {}).status_code == 403


def test_an_empty_message_comes_back_next_to_the_field(client, world):
    client.force_login(world.manager)

    response = client.post(url(world.a, "message/"), {"message-subject": "Hi", "message-body": ""})

    assert response.status_code == 400
    assert response.context["message_form"].errors["body"]
    assert 'id="id_message-body_errors"' in response.content.decode()
    assert not Notification.objects.filter(user=world.a, kind="message").exists()


def test_a_refusal_of_the_service_comes_back_on_the_form(client, world):
    client.force_login(world.manager)
    data = {"retrain-project": world.p1.pk, "retrain-reason": "Why."}
    client.post(url(world.a, "retrain/"), data)

    response = client.post(url(world.a, "retrain/"), data)

    assert response.status_code == 400
    assert "already sent them back to training" in response.content.decode()
    assert RuleAction.objects.filter(user=world.a).count() == 1


def test_past_the_limit_the_message_form_says_so(client, world, settings):
    settings.QUORUM_MANAGER_MESSAGES_PER_MINUTE = 1
    client.force_login(world.manager)
    data = {"message-subject": "Hi", "message-body": "Hello."}
    client.post(url(world.a, "message/"), data)

    response = client.post(url(world.b, "message/"), data)

    assert response.status_code == 400
    assert "at most 1 messages a minute" in response.content.decode()
    assert not Notification.objects.filter(user=world.b, kind="message").exists()
