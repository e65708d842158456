"""A manager's message to a person of their teams: a notification of its own kind, e-mailed
after commit, audited; scoped to the manager's teams; refused naming the field; rate-limited."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.models import Role
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.models import AuditEvent
from tests.factories import make_team, make_user
from workforce.errors import TooManyMessages
from workforce.models import Notification, NotificationKind
from workforce.services import messages as message_services
from workforce.services.messages import MESSAGE_BODY_MAX, MESSAGE_SUBJECT_MAX, person_message_send
from workforce.services.notifications import notification_preferences_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(make_member):
    return make_member()


@pytest.fixture
def fixed_minute(monkeypatch):
    """Every message of the test falls in the same minute (no window turns over mid-test)."""
    monkeypatch.setattr(message_services, "_now", lambda: 1_800_000_000.0)


def test_a_manager_messages_a_person_of_their_team(manager, member, fixed_minute):
    notification = person_message_send(
        actor=manager, person=member, subject="Your boxes", body="Tighter boxes, please."
    )

    assert notification.user == member
    assert notification.kind == NotificationKind.MESSAGE
    assert notification.title == "Your boxes"
    assert notification.body.startswith("Tighter boxes, please.")
    assert manager.email in notification.body  # who wrote it (their name, else their e-mail)
    assert notification.url == "/notifications/"


def test_the_message_is_audited_with_its_author(manager, member, fixed_minute):
    notification = person_message_send(actor=manager, person=member, subject="Hi", body="Hello.")

    event = AuditEvent.objects.get(action="person.messaged")
    assert event.actor == manager
    assert event.target_id == str(notification.pk)
    assert event.after == {"to": member.pk, "subject": "Hi", "body": "Hello."}


def test_the_message_is_emailed_once_committed(
    manager, member, fixed_minute, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        person_message_send(actor=manager, person=member, subject="Shift", body="See you at 9.")

    [mail] = mailoutbox
    assert mail.to == [member.email]
    assert mail.subject == "[Quorum] Shift"
    assert "See you at 9." in mail.body


def test_a_rolled_back_message_leaves_nothing_and_sends_nothing(
    manager, member, fixed_minute, mailoutbox
):
    with pytest.raises(RuntimeError), transaction.atomic():
        person_message_send(actor=manager, person=member, subject="Shift", body="See you at 9.")
        raise RuntimeError("the request failed after the message")

    assert mailoutbox == []
    assert not Notification.objects.filter(user=member).exists()


def test_a_person_who_turned_message_email_off_gets_it_in_the_portal_only(
    manager, member, fixed_minute, mailoutbox, django_capture_on_commit_callbacks
):
    notification_preferences_set(user=member, by_email={"message": False})

    with django_capture_on_commit_callbacks(execute=True):
        person_message_send(actor=manager, person=member, subject="Hi", body="Hello.")

    assert mailoutbox == []
    assert Notification.objects.filter(user=member, kind="message").count() == 1


def test_a_manager_cannot_message_someone_outside_their_teams(manager, fixed_minute):
    stranger = make_user(Role.ANNOTATOR)
    make_team("Elsewhere", members=[stranger])

    with pytest.raises(NotFound):
        person_message_send(actor=manager, person=stranger, subject="Hi", body="Hello.")

    assert not Notification.objects.filter(user=stranger).exists()
    assert not AuditEvent.objects.filter(action="person.messaged").exists()


def test_an_administrator_messages_anyone(fixed_minute):
    admin = make_user(Role.ADMIN, mfa=True)
    stranger = make_user(Role.ANNOTATOR)

    person_message_send(actor=admin, person=stranger, subject="Hi", body="Hello.")

    assert Notification.objects.filter(user=stranger, kind="message").exists()


def test_an_annotator_cannot_message_anyone(member, fixed_minute):
    with pytest.raises(PermissionDenied):
        person_message_send(
            actor=make_user(Role.ANNOTATOR), person=member, subject="Hi", body="Hello."
        )


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        ("Hi", "", "body"),
        ("Hi", "   \n ", "body"),
        ("", "Hello.", "subject"),
        ("x" * (MESSAGE_SUBJECT_MAX + 1), "Hello.", "subject"),
        ("Hi", "x" * (MESSAGE_BODY_MAX + 1), "body"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_kept(
    manager, member, fixed_minute, subject, body, field
):
    with pytest.raises(ValidationFailed) as refused:
        person_message_send(actor=manager, person=member, subject=subject, body=body)

    assert list(refused.value.extra["fields"]) == [field]
    assert refused.value.message.startswith(f"{field}: ")
    assert not Notification.objects.filter(user=member).exists()


def test_a_manager_sends_at_most_the_limit_in_a_minute(manager, member, fixed_minute, settings):
    settings.QUORUM_MANAGER_MESSAGES_PER_MINUTE = 3
    for i in range(3):
        person_message_send(actor=manager, person=member, subject=f"#{i}", body="Hello.")

    with pytest.raises(TooManyMessages) as refused:
        person_message_send(actor=manager, person=member, subject="#4", body="Hello.")

    assert refused.value.http_status == 429
    assert refused.value.extra == {"limit_per_minute": 3}
    assert Notification.objects.filter(user=member).count() == 3


def test_the_limit_counts_each_manager_and_each_minute_apart(
    manager, member, monkeypatch, settings
):
    settings.QUORUM_MANAGER_MESSAGES_PER_MINUTE = 1
    admin = make_user(Role.ADMIN, mfa=True)
    monkeypatch.setattr(message_services, "_now", lambda: 1_800_000_000.0)
    person_message_send(actor=manager, person=member, subject="1", body="Hello.")

    person_message_send(actor=admin, person=member, subject="2", body="Hello.")
    monkeypatch.setattr(message_services, "_now", lambda: 1_800_000_060.0)
    person_message_send(actor=manager, person=member, subject="3", body="Hello.")

    assert Notification.objects.filter(user=member).count() == 3


def test_the_person_reads_it_on_their_notifications_page(client, manager, member, fixed_minute):
    person_message_send(actor=manager, person=member, subject="Your boxes", body="Tighter.")
    client.force_login(member)

    page = client.get("/notifications/")

    assert page.status_code == 200
    assert b"Your boxes" in page.content
    assert b"Tighter." in page.content
