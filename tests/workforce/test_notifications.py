"""Notifications: stored for the person, e-mailed only for the kinds they chose, seen only by them."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.models import Role
from tests.factories import make_user
from workforce.models import Notification
from workforce.selectors.notifications import notifications_unread_count
from workforce.services.notifications import notification_preferences_set, notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return make_user(Role.ANNOTATOR)


def test_by_default_only_activation_suspension_and_appeals_go_by_email(
    person, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notify(user=person, kind="account_activated", title="You can take work now", url="/")
        notify(user=person, kind="test_failed", title="Test failed", body="Retry from 14:05 UTC")

    assert Notification.objects.filter(user=person).count() == 2
    assert [m.subject for m in mailoutbox] == ["[Quorum] You can take work now"]
    assert mailoutbox[0].to == [person.email]
    assert "http://" in mailoutbox[0].body


def test_email_follows_the_kinds_the_person_chose(
    person, mailoutbox, django_capture_on_commit_callbacks
):
    notification_preferences_set(
        user=person, by_email={"account_activated": False, "test_failed": True}
    )

    with django_capture_on_commit_callbacks(execute=True):
        notify(user=person, kind="account_activated", title="Activated")
        notify(user=person, kind="test_failed", title="Failed")
        notify(user=person, kind="suspended", title="Suspended")

    assert sorted(m.subject for m in mailoutbox) == ["[Quorum] Failed", "[Quorum] Suspended"]


def test_a_rolled_back_notification_sends_no_email(person, mailoutbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(user=person, kind="suspended", title="Suspended")
        raise RuntimeError("the change that caused it failed")

    assert mailoutbox == []
    assert not Notification.objects.filter(user=person).exists()


def test_an_unknown_kind_is_refused_naming_the_field(person):
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        notify(user=person, kind="birthday", title="Hi")

    assert "kind" in refused.value.extra["fields"]


def test_people_list_and_read_only_their_own_notifications(client, person):
    other = make_user(Role.ANNOTATOR)
    mine = notify(user=person, kind="rework_returned", title="Mine")
    theirs = notify(user=other, kind="rework_returned", title="Theirs")
    client.force_login(person)

    listed = client.get("/api/v1/notifications/").json()
    read_theirs = client.post(f"/api/v1/notifications/{theirs.pk}/read/")
    read_mine = client.post(f"/api/v1/notifications/{mine.pk}/read/")
    page = client.get("/notifications/").content.decode()

    assert [n["id"] for n in listed["results"]] == [mine.pk]
    assert read_theirs.status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert read_mine.json()["is_read"] is True
    assert "Mine" in page and "Theirs" not in page


def test_the_header_shows_the_unread_count_until_all_are_read(client, person):
    for n in range(3):
        notify(user=person, kind="test_passed", title=f"Passed {n}")
    client.force_login(person)

    before = client.get("/notifications/").content.decode()
    client.post("/notifications/", {"notification": Notification.objects.first().pk})
    one_read = notifications_unread_count(user=person)
    marked = client.post("/api/v1/notifications/read-all/").json()
    after = client.get("/notifications/").content.decode()

    assert 'id="notifications-unread">3<' in before
    assert one_read == 2
    assert marked == {"marked": 2, "unread": 0}
    assert 'id="notifications-unread"' not in after


def test_preferences_read_and_change_by_api_and_bad_kinds_are_named(client, person):
    client.force_login(person)

    defaults = client.get("/api/v1/notifications/preferences/").json()["by_email"]
    changed = client.put(
        "/api/v1/notifications/preferences/",
        {"by_email": {"promoted": True}},
        content_type="application/json",
    ).json()["by_email"]
    bad = client.put(
        "/api/v1/notifications/preferences/",
        {"by_email": {"lottery": True}},
        content_type="application/json",
    )

    assert defaults["account_activated"] is True and defaults["promoted"] is False
    assert changed["promoted"] is True and changed["account_activated"] is True
    assert bad.status_code == 400
    assert "by_email" in bad.json()["extra"]["fields"]


def test_the_preferences_page_saves_the_choices(client, person):
    client.force_login(person)

    client.post("/notifications/preferences/", {"rework_returned": "on"})

    page = client.get("/notifications/preferences/").content.decode()
    prefs = client.get("/api/v1/notifications/preferences/").json()["by_email"]
    assert prefs["rework_returned"] is True
    assert prefs["account_activated"] is False
    assert 'name="rework_returned"' in page


def test_the_list_page_does_a_fixed_number_of_queries(
    client, person, django_assert_max_num_queries
):
    for n in range(20):
        notify(user=person, kind="test_passed", title=f"Passed {n}")
    client.force_login(person)

    with django_assert_max_num_queries(12):
        client.get("/notifications/")
