"""The standing API: tier candidates for managers (in their scope), and a person's own standing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, RoleGrant
from tests.factories import make_user
from tests.labeling.factories import make_worker
from tests.quality.factories import gold_record, managed, managed_worker
from workforce.models import CandidateState, StandingDecisionKind
from workforce.services.tiers import standing_decision_record, tier_candidate_propose

pytestmark = pytest.mark.django_db


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def propose(person, to_tier="reviewer-1", from_tier="annotator"):
    return tier_candidate_propose(
        user=person,
        from_tier=from_tier,
        to_tier=to_tier,
        evidence={"accuracy": {"n": 50, "successes": 50.0, "low": 0.93}},
        now=timezone.now(),
    )


def test_a_manager_lists_the_pending_candidates_with_their_evidence(manager_client, manager):
    person = managed_worker(manager)
    candidate = propose(person)

    response = manager_client.get("/api/v1/tier-candidates/?state=pending")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == candidate.pk
    assert row["person"]["email"] == person.email
    assert (row["from_tier"], row["to_tier"], row["direction"]) == (
        "annotator",
        "reviewer-1",
        "promotion",
    )
    assert row["evidence"]["accuracy"]["low"] == 0.93


def test_the_candidate_list_costs_the_same_queries_for_one_or_many(manager_client, manager):
    propose(managed_worker(manager))
    with CaptureQueriesContext(connection) as one:
        manager_client.get("/api/v1/tier-candidates/")
    for _ in range(4):
        propose(managed_worker(manager))

    with CaptureQueriesContext(connection) as five:
        response = manager_client.get("/api/v1/tier-candidates/")

    assert len(response.json()["results"]) == 5
    assert len(five) == len(one)


def test_annotators_may_not_see_the_candidates(client):
    person = make_worker()
    propose(person)
    client.force_login(person)

    assert client.get("/api/v1/tier-candidates/").status_code == 403


def test_a_candidate_of_someone_outside_the_managers_people_is_not_found(manager_client):
    outsider = make_user(Role.FINANCE)  # not workforce: outside every manager's people
    candidate = propose(outsider)

    assert manager_client.get(f"/api/v1/tier-candidates/{candidate.pk}/").status_code == 404
    response = post(manager_client, f"/api/v1/tier-candidates/{candidate.pk}/approve/")
    assert response.status_code == 404
    assert not RoleGrant.objects.filter(user=outsider, role=Role.REVIEWER).exists()


def test_approving_grants_the_reviewer_level_and_a_second_approval_conflicts(
    manager_client, manager
):
    person = managed_worker(manager)
    candidate = propose(person)

    response = post(manager_client, f"/api/v1/tier-candidates/{candidate.pk}/approve/")

    assert response.status_code == 200
    assert response.json()["state"] == "approved"
    assert response.json()["decided_by"] == manager.email
    assert RoleGrant.objects.get(user=person, role=Role.REVIEWER).level == 1
    again = post(manager_client, f"/api/v1/tier-candidates/{candidate.pk}/approve/")
    assert again.status_code == 409


def test_approving_a_demotion_from_level_one_revokes_the_reviewer_role(manager_client, manager):
    reviewer = make_user(Role.REVIEWER, level=1)
    managed(manager, reviewer)
    candidate = propose(reviewer, from_tier="reviewer-1", to_tier="annotator")

    response = post(manager_client, f"/api/v1/tier-candidates/{candidate.pk}/approve/")

    assert response.status_code == 200
    assert not RoleGrant.objects.filter(user=reviewer, role=Role.REVIEWER).exists()


def test_a_candidate_out_of_date_is_refused(manager_client, manager):
    person = managed_worker(manager)
    candidate = propose(person)
    RoleGrant.objects.create(user=person, role=Role.REVIEWER, level=2)

    response = post(manager_client, f"/api/v1/tier-candidates/{candidate.pk}/approve/")

    assert response.status_code == 409
    assert "out of date" in response.json()["message"]


def test_declining_needs_a_note(manager_client, manager):
    candidate = propose(managed_worker(manager))

    missing = post(
        manager_client, f"/api/v1/tier-candidates/{candidate.pk}/decline/", {"note": " "}
    )
    declined = post(
        manager_client, f"/api/v1/tier-candidates/{candidate.pk}/decline/", {"note": "Too soon."}
    )

    assert missing.status_code == 400
    assert "note" in missing.json()["extra"]["fields"]
    assert declined.status_code == 200
    assert (declined.json()["state"], declined.json()["note"]) == ("declined", "Too soon.")
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.DECLINED


def test_a_manager_computes_the_candidates_now(manager_client, project):
    make_worker()

    response = post(manager_client, "/api/v1/tier-candidates/compute/")

    assert response.status_code == 200
    assert response.json()["people"] >= 1
    assert response.json()["candidates"] == 0


def test_an_annotator_may_not_compute(client):
    person = make_worker()
    client.force_login(person)

    assert post(client, "/api/v1/tier-candidates/compute/").status_code == 403


def test_a_person_on_probation_sees_their_numbers_and_what_the_next_tier_needs(client, project):
    newcomer = make_worker(status="probation")
    gold_record(project, newcomer, [1.0] * 10 + [0.0], now=timezone.now() - timedelta(minutes=1))
    client.force_login(newcomer)

    body = client.get("/api/v1/me/standing/").json()

    assert (body["status"], body["tier"]) == ("probation", "annotator")
    assert (body["probation"]["n"], body["probation"]["successes"]) == (11, 10.0)
    assert body["probation"]["pass_low_above"] == 0.85
    assert body["next_tier"]["tier"] == "reviewer-1"
    assert body["next_tier"]["needs"]["accuracy_low_at_least"] == 0.9
    assert body["next_tier"]["current"]["volume"] == 11


def test_a_person_sees_the_decisions_about_them_with_their_numbers(client):
    person = make_worker()
    standing_decision_record(
        user=person,
        kind=StandingDecisionKind.PROBATION_PASSED,
        evidence={"n": 50, "successes": 48, "low": 0.865, "threshold": 0.85},
    )
    client.force_login(person)

    [decision] = client.get("/api/v1/me/standing/").json()["decisions"]

    assert decision["kind"] == "probation_passed"
    assert decision["evidence"]["low"] == 0.865
