"""A manager grants and revokes lead (or sets a reviewer level) by hand, for a person of their
teams, with a reason; audited and notified. Another team's person is not found."""

import pytest
from django.utils import timezone

from accounts.models import Role
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.models import AuditEvent
from tests.factories import make_team, make_user
from workforce.models import CandidateState, LeadGrant, Notification
from workforce.selectors.tiers import tier_below, tier_of
from workforce.services.tier_moves import tier_move
from workforce.services.tiers import tier_candidate_propose

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_a_manager_grants_lead_and_the_person_is_told_why(manager, make_member):
    person = make_member(Role.REVIEWER, level=2)

    before = tier_move(user=person, tier="lead", actor=manager, reason="Runs the night shift.")

    assert (before, tier_of(user=person)) == ("reviewer-2", "lead")
    note = Notification.objects.get(user=person)
    assert (note.kind, note.title, note.body) == (
        "promoted",
        "Promoted to Lead",
        "Runs the night shift.",
    )
    event = AuditEvent.objects.get(action="tier.changed", actor=manager)
    assert event.before == {"tier": "reviewer-2"}
    assert event.after == {"tier": "lead", "reason": "Runs the night shift."}


def test_revoking_lead_demotes_and_supersedes_a_pending_candidate(manager, make_member):
    person = make_member(Role.REVIEWER, level=1)
    tier_move(user=person, tier="lead", actor=manager, reason="Trial as lead.")
    candidate = tier_candidate_propose(
        user=person, from_tier="lead", to_tier=tier_below("lead"), evidence={}, now=timezone.now()
    )

    tier_move(user=person, tier="reviewer-1", actor=manager, reason="Trial over.")

    assert tier_of(user=person) == "reviewer-1"
    assert not LeadGrant.objects.filter(user=person).exists()
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.SUPERSEDED
    assert Notification.objects.filter(user=person, kind="demoted").count() == 1


@pytest.mark.parametrize(
    ("tier", "reason", "field"),
    [
        ("lead", "  ", "reason"),
        ("lead", "x" * 301, "reason"),
        ("chief", "Why not.", "tier"),
        ("reviewer-99", "Why not.", "tier"),
        ("annotator", "Already one.", "tier"),
    ],
)
def test_bad_input_names_the_field(manager, make_member, tier, reason, field):
    person = make_member()

    with pytest.raises(ValidationFailed) as error:
        tier_move(user=person, tier=tier, actor=manager, reason=reason)

    assert list(error.value.extra["fields"]) == [field]
    assert tier_of(user=person) == "annotator"


def test_another_teams_person_is_not_found_and_annotators_may_not(manager, make_member):
    outsider = make_user(Role.ANNOTATOR)
    make_team(members=[outsider])

    with pytest.raises(NotFound):
        tier_move(user=outsider, tier="lead", actor=manager, reason="Sneaky.")
    with pytest.raises(PermissionDenied):
        tier_move(user=make_member(), tier="lead", actor=outsider, reason="Me.")
    assert tier_of(user=outsider) == "annotator"


def test_an_administrator_moves_anyone(make_member):
    admin = make_user(Role.ADMIN, mfa=True)
    outsider = make_user(Role.ANNOTATOR)

    tier_move(user=outsider, tier="reviewer-1", actor=admin, reason="Good reviews.")

    assert tier_of(user=outsider) == "reviewer-1"


def test_the_api_sets_a_tier_and_names_a_missing_reason(manager_client, make_member):
    person = make_member()
    url = f"/api/v1/people/{person.pk}/tier/"

    missing = post(manager_client, url, {"tier": "lead"})
    moved = post(manager_client, url, {"tier": "lead", "reason": "Trusted with the queue."})

    assert missing.status_code == 400
    assert "reason" in missing.json()["extra"]["fields"]
    assert moved.status_code == 200
    assert moved.json() == {
        "user_id": person.pk,
        "tier": "lead",
        "tier_label": "Lead",
        "previous_tier": "annotator",
    }


def test_the_api_and_the_portal_answer_404_outside_the_managers_teams(manager_client):
    outsider = make_user(Role.ANNOTATOR)
    make_team(members=[outsider])

    api = post(
        manager_client, f"/api/v1/people/{outsider.pk}/tier/", {"tier": "lead", "reason": "x"}
    )
    page = manager_client.post(f"/people/{outsider.pk}/tier/", {"tier": "lead", "reason": "x"})

    assert (api.status_code, page.status_code) == (404, 404)
    assert tier_of(user=outsider) == "annotator"


def test_an_annotator_may_not_use_the_api(client, make_member):
    person = make_member()
    client.force_login(person)

    response = post(client, f"/api/v1/people/{person.pk}/tier/", {"tier": "lead", "reason": "Me."})

    assert response.status_code == 403
    assert tier_of(user=person) == "annotator"


def test_the_person_page_has_the_form_and_moves_the_tier(manager_client, make_member):
    person = make_member()
    page = manager_client.get(f"/people/{person.pk}/").content.decode()

    without_reason = manager_client.post(f"/people/{person.pk}/tier/", {"tier": "lead"})
    moved = manager_client.post(
        f"/people/{person.pk}/tier/", {"tier": "lead", "reason": "Leads the Swahili batch."}
    )

    assert f'action="/people/{person.pk}/tier/"' in page
    assert '<option value="lead">Lead</option>' in page
    assert without_reason.status_code == 400
    assert 'id="id_reason_errors"' in without_reason.content.decode()
    assert moved.status_code == 302
    assert tier_of(user=person) == "lead"
