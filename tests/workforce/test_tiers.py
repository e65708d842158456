"""Tiers: derived from roles and lead grants, changed through the role service, and candidates."""

import pytest
from django.utils import timezone

from accounts.models import Role, RoleGrant
from core.errors import Conflict, ValidationFailed
from core.models import AuditEvent
from tests.factories import make_user
from workforce.models import CandidateState, LeadGrant
from workforce.selectors.tiers import tier_above, tier_below, tier_of, tiers_of
from workforce.services.tiers import (
    tier_candidate_approve,
    tier_candidate_decline,
    tier_candidate_propose,
    tier_set,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return make_user(Role.MANAGER)


def propose(person, to_tier="reviewer-1", from_tier="annotator"):
    return tier_candidate_propose(
        user=person, from_tier=from_tier, to_tier=to_tier, evidence={}, now=timezone.now()
    )


def test_a_tier_derives_from_the_reviewer_level_and_the_lead_grant():
    annotator = make_user(Role.ANNOTATOR)
    reviewer = make_user(Role.REVIEWER, level=2)
    lead = make_user(Role.REVIEWER, level=2)
    LeadGrant.objects.create(user=lead)

    assert tiers_of([annotator.pk, reviewer.pk, lead.pk]) == {
        annotator.pk: "annotator",
        reviewer.pk: "reviewer-2",
        lead.pk: "lead",
    }


def test_the_tier_ladder_stops_at_the_configured_review_level(settings):
    settings.QUORUM_TIER_MAX_REVIEW_LEVEL = 2

    assert [tier_above(t) for t in ("annotator", "reviewer-1", "reviewer-2", "lead")] == [
        "reviewer-1",
        "reviewer-2",
        None,
        None,
    ]
    assert [tier_below(t) for t in ("annotator", "reviewer-1", "reviewer-2", "lead")] == [
        None,
        "annotator",
        "reviewer-1",
        "reviewer-2",
    ]


def test_making_someone_lead_keeps_the_top_reviewer_level_and_is_audited(manager):
    person = make_user(Role.ANNOTATOR)

    tier_set(user=person, tier="lead", actor=manager, reason="Runs the night shift.")

    assert tier_of(user=person) == "lead"
    assert RoleGrant.objects.get(user=person, role=Role.REVIEWER).level == 2
    event = AuditEvent.objects.get(action="tier.changed")
    assert (event.before, event.after["tier"]) == ({"tier": "annotator"}, "lead")


def test_down_to_annotator_ends_lead_and_revokes_the_reviewer_role(manager):
    person = make_user(Role.ANNOTATOR)
    tier_set(user=person, tier="lead", actor=manager)

    tier_set(user=person, tier="annotator", actor=manager)

    assert tier_of(user=person) == "annotator"
    assert not LeadGrant.objects.filter(user=person).exists()
    assert AuditEvent.objects.filter(action="role.revoked", actor=manager).exists()


def test_an_unknown_tier_is_refused_naming_the_field(manager, settings):
    settings.QUORUM_TIER_MAX_REVIEW_LEVEL = 2
    person = make_user(Role.ANNOTATOR)

    with pytest.raises(ValidationFailed) as refused:
        tier_set(user=person, tier="reviewer-3", actor=manager)
    assert "tier" in refused.value.extra["fields"]
    with pytest.raises(ValidationFailed) as refused:
        propose(person, to_tier="boss")
    assert "to_tier" in refused.value.extra["fields"]


def test_a_new_candidate_supersedes_the_pending_one():
    person = make_user(Role.ANNOTATOR)
    first = propose(person)

    second = propose(person)

    first.refresh_from_db()
    assert (first.state, second.state) == (CandidateState.SUPERSEDED, CandidateState.PENDING)


def test_a_decided_candidate_cannot_be_decided_again(manager):
    candidate = propose(make_user(Role.ANNOTATOR))
    tier_candidate_decline(candidate=candidate, actor=manager, note="Not yet.")

    with pytest.raises(Conflict):
        tier_candidate_approve(candidate=candidate, actor=manager)


def test_declining_needs_a_note_naming_the_field(manager):
    candidate = propose(make_user(Role.ANNOTATOR))

    with pytest.raises(ValidationFailed) as refused:
        tier_candidate_decline(candidate=candidate, actor=manager, note="  ")

    assert "note" in refused.value.extra["fields"]
