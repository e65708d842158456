"""The standing pages: the tier candidates queue, a person's own standing, and the section on the
managers' person page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role, RoleGrant
from tests.factories import make_user
from tests.labeling.factories import make_worker
from tests.quality.factories import gold_record, managed, managed_worker
from workforce.models import CandidateState, StandingDecisionKind
from workforce.services.tiers import standing_decision_record, tier_candidate_propose

pytestmark = pytest.mark.django_db

QUEUE = "/quality/tier-candidates/"


def propose(person):
    return tier_candidate_propose(
        user=person,
        from_tier="annotator",
        to_tier="reviewer-1",
        evidence={
            "accuracy": {"n": 50, "successes": 50.0, "accuracy": 1.0, "low": 0.929, "high": 1.0},
            "volume": 120,
            "signal": "promote",
            "previous_week_signal": "promote",
        },
        now=timezone.now(),
    )


def test_a_manager_sees_the_queue_with_the_evidence(manager_client, manager):
    person = managed_worker(manager)
    propose(person)

    page = manager_client.get(QUEUE).content.decode()

    assert person.email in page
    assert "0.929" in page
    assert "120 annotations" in page


def test_a_manager_approves_from_the_queue(manager_client, manager):
    person = managed_worker(manager)
    candidate = propose(person)

    response = manager_client.post(f"{QUEUE}{candidate.pk}/approve/", {"note": ""})

    assert response.status_code == 302
    assert RoleGrant.objects.get(user=person, role=Role.REVIEWER).level == 1


def test_declining_from_the_queue_without_a_note_is_refused_with_the_reason(
    manager_client, manager
):
    candidate = propose(managed_worker(manager))

    response = manager_client.post(f"{QUEUE}{candidate.pk}/decline/", {"note": ""}, follow=True)

    assert "Say why the candidate is declined." in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.PENDING


def test_a_candidate_outside_the_managers_people_is_not_found(manager_client):
    candidate = propose(make_user(Role.FINANCE))

    assert manager_client.post(f"{QUEUE}{candidate.pk}/approve/").status_code == 404


def test_annotators_may_not_open_the_queue(client):
    person = make_worker()
    client.force_login(person)

    assert client.get(QUEUE).status_code == 403
    assert client.post(f"{QUEUE}compute/").status_code == 403


def test_the_compute_button_computes(manager_client):
    make_worker()

    response = manager_client.post(f"{QUEUE}compute/", follow=True)

    assert "candidates proposed" in response.content.decode()


def test_a_person_on_probation_sees_their_numbers_without_their_gold_items(client, project):
    newcomer = make_worker(status="probation")
    ids = gold_record(
        project, newcomer, [1.0] * 9 + [0.0], now=timezone.now() - timedelta(minutes=1)
    )
    standing_decision_record(
        user=newcomer,
        kind=StandingDecisionKind.RETRAINING,
        evidence={
            "n": 50,
            "successes": 23,
            "accuracy": 0.46,
            "low": 0.33,
            "high": 0.596,
            "threshold": 0.6,
        },
        now=timezone.now() - timedelta(hours=1),
    )
    client.force_login(newcomer)

    page = client.get("/quality/mine/standing/").content.decode()

    assert "Your tier: Annotator" in page
    assert "10 scored items" in page
    assert "upper bound below 0.6" in page
    assert "What Reviewer level 1 needs" in page
    for annotation_id in ids:
        assert f"/{annotation_id}/" not in page


def test_the_person_page_shows_their_tier_and_standing_decisions(manager_client, manager):
    person = make_worker()
    managed(manager, person)
    standing_decision_record(
        user=person,
        kind=StandingDecisionKind.PROBATION_PASSED,
        evidence={
            "n": 50,
            "successes": 48,
            "accuracy": 0.96,
            "low": 0.865,
            "high": 0.99,
            "threshold": 0.85,
        },
    )
    propose(person)

    page = manager_client.get(f"/people/{person.pk}/").content.decode()

    assert "Tier: <strong>Annotator</strong>" in page
    assert "Probation passed" in page
    assert "0.865" in page
    assert "Promotion to reviewer-1 waiting" in page
