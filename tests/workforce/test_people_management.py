"""Managers activate and suspend annotators and grant skill levels, in the portal and by API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from core.models import AuditEvent
from tests.factories import make_user
from workforce.models import AnnotatorProfile, Skill, SkillLevel
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_activates_an_applicant_from_the_portal(manager_client, make_member):
    person = make_member()

    response = manager_client.post(
        f"/people/{person.pk}/", {"op": "status", "status": "active", "reason": "passed checks"}
    )

    assert response.status_code == 302
    assert AnnotatorProfile.objects.get(user=person).status == "active"
    # Sign-up moved them to "terms accepted" already; the manager's activation is the last move.
    event = AuditEvent.objects.filter(action="annotator.status_changed").latest("id")
    assert event.before == {"status": "terms_accepted"}
    assert event.after == {"status": "active", "reason": "passed checks"}


def test_a_manager_grants_and_removes_a_skill_level(manager_client, make_member):
    person = make_member()
    skill = Skill.objects.create(slug="ner-en", name="English NER")

    manager_client.post(f"/people/{person.pk}/", {"op": "skill", "skill": skill.pk, "level": 3})
    granted = SkillLevel.objects.get(user=person, skill=skill).level
    manager_client.post(f"/people/{person.pk}/", {"op": "revoke-skill", "skill": skill.pk})

    assert granted == 3
    assert not SkillLevel.objects.filter(user=person).exists()


def test_a_skill_level_out_of_range_is_shown_next_to_the_field(manager_client, make_member):
    person = make_member()
    skill = Skill.objects.create(slug="ner-en", name="English NER")

    response = manager_client.post(
        f"/people/{person.pk}/", {"op": "skill", "skill": skill.pk, "level": 11}
    )

    assert response.status_code == 200
    assert "level" in response.context["skill_form"].errors


def test_skills_are_created_on_the_skills_page_with_clear_errors(manager_client):
    manager_client.post("/skills/", {"slug": "bbox-cars", "name": "Car boxes"})
    again = manager_client.post("/skills/", {"slug": "bbox-cars", "name": "Again"})

    assert Skill.objects.filter(slug="bbox-cars").count() == 1
    assert again.context["form"].errors["slug"] == ["The skill 'bbox-cars' already exists."]


def test_the_api_sets_status_and_skills(manager_client, make_member):
    person = make_member()
    manager_client.post(
        "/api/v1/skills/", {"slug": "sent", "name": "Sentiment"}, content_type="application/json"
    )

    status = manager_client.post(
        f"/api/v1/people/{person.pk}/status/",
        {"status": "probation"},
        content_type="application/json",
    )
    skill = manager_client.post(
        f"/api/v1/people/{person.pk}/skills/",
        {"skill": "sent", "level": 2},
        content_type="application/json",
    )
    detail = manager_client.get(f"/api/v1/people/{person.pk}/").json()
    removed = manager_client.delete(f"/api/v1/people/{person.pk}/skills/sent/")

    assert status.json()["status"] == "probation"
    assert skill.status_code == 201
    assert detail["skills"][0]["skill"] == "sent"
    assert removed.status_code == 204


def test_finance_cannot_manage_people(client):
    client.force_login(make_user(Role.FINANCE, mfa=True))
    person = make_user(Role.ANNOTATOR)

    assert client.get(f"/people/{person.pk}/").status_code == 403
    assert (
        client.post(
            f"/api/v1/people/{person.pk}/status/",
            {"status": "active"},
            content_type="application/json",
        ).status_code
        == 403
    )


def test_the_people_api_does_a_constant_number_of_queries(manager_client, make_member):
    skill = Skill.objects.create(slug="s", name="S")
    from workforce.services import skill_level_grant

    for _ in range(2):
        skill_level_grant(user=make_member(), skill=skill, level=1, actor=None)
    with CaptureQueriesContext(connection) as few:
        manager_client.get("/api/v1/people/")
    for _ in range(8):
        skill_level_grant(user=make_member(), skill=skill, level=1, actor=None)

    with CaptureQueriesContext(connection) as many:
        listed = manager_client.get("/api/v1/people/")

    assert listed.json()["count"] == 10
    assert len(many) == len(few)


def test_a_manager_marks_an_annotator_trusted_which_changes_their_standing(
    manager_client, make_member
):
    from workforce.selectors import standing_of

    annotator = make_member()
    profile = AnnotatorProfile.objects.get(user=annotator)
    annotator_status_set(profile=profile, status="active", actor=None)
    assert standing_of(user=annotator) == "regular"

    manager_client.post(f"/people/{annotator.pk}/", {"op": "trust", "is_trusted": "1"})
    assert standing_of(user=annotator) == "trusted"
    response = manager_client.post(
        f"/api/v1/people/{annotator.pk}/trust/",
        {"is_trusted": False, "reason": "Two wrong gold answers"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["is_trusted"] is False
    assert standing_of(user=annotator) == "regular"
    assert AuditEvent.objects.filter(action="annotator.trust_changed").count() == 2
