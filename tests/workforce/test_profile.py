import pytest

from accounts.models import Role
from core.errors import ValidationFailed
from core.models import AuditEvent
from tests.factories import make_user
from workforce.models import AnnotatorProfile
from workforce.services import annotator_profile_update, terms_publish

pytestmark = pytest.mark.django_db


def test_an_annotator_edits_their_profile_and_the_change_is_audited(client):
    annotator = make_user(Role.ANNOTATOR)
    client.force_login(annotator)

    response = client.post(
        "/profile/", {"country": "GH", "time_zone": "Africa/Accra", "languages": ["en", "ak"]}
    )

    assert response.status_code == 302
    profile = AnnotatorProfile.objects.get(user=annotator)
    assert (str(profile.country), profile.time_zone, profile.languages) == (
        "GH",
        "Africa/Accra",
        ["ak", "en"],
    )
    event = AuditEvent.objects.get(action="profile.updated")
    assert event.before["country"] == "KE"
    assert event.after["country"] == "GH"


def test_a_profile_without_languages_is_refused_naming_the_field(client):
    client.force_login(make_user(Role.ANNOTATOR))

    response = client.post("/profile/", {"country": "GH", "time_zone": "Africa/Accra"})

    assert response.status_code == 200
    assert "languages" in response.context["form"].errors


def test_the_service_names_every_bad_field_and_changes_nothing():
    annotator = make_user(Role.ANNOTATOR)
    profile = AnnotatorProfile.objects.get(user=annotator)

    with pytest.raises(ValidationFailed) as error:
        annotator_profile_update(
            profile=profile, actor=annotator, country="XX", time_zone="Nowhere", languages=["zz"]
        )

    assert set(error.value.extra["fields"]) == {"country", "time_zone", "languages"}
    profile.refresh_from_db()
    assert str(profile.country) == "KE"


def test_the_profile_page_lists_the_terms_versions_accepted(client):
    client.force_login(make_user(Role.ANNOTATOR))

    response = client.get("/profile/")

    assert "Version 2026-11" in response.content.decode()


def test_signup_offers_the_newest_published_terms(client):
    terms_publish(version="2027-01", title="Terms v2", body="New terms.", actor=None)

    response = client.get("/accounts/signup/")

    assert "version 2027-01" in response.content.decode()
    assert response.context["form"].fields["terms_version"].initial == "2027-01"


def test_publishing_an_existing_terms_version_is_refused():
    with pytest.raises(ValidationFailed):
        terms_publish(version="2026-11", title="again", body="x", actor=None)


def test_the_people_page_shows_the_workforce_to_a_manager(client, manager, make_member):
    annotator = make_member()
    client.force_login(manager)

    response = client.get("/people/", {"country": "KE"})

    assert annotator.email in response.content.decode()
    assert client.get("/people/", {"country": "FR"}).content.decode().count(annotator.email) == 0
