"""Every journey state reads as words, from one place (`status_label`): pages and API fields show
"Terms accepted", never "terms_accepted"."""

import pytest

from accounts.models import Role
from tests.factories import make_user
from workforce.models import AnnotatorProfile
from workforce.selectors.onboarding_steps import (
    PREVIOUS,
    OnboardingStep,
    journey_state_choices,
    journey_states,
    onboarding_step_register,
    onboarding_step_unregister,
    status_label,
)

pytestmark = pytest.mark.django_db

FIXED = {
    "applicant": "Applicant",
    "approval": "Waiting for approval",
    "probation": "Active (probation)",
    "active": "Active",
    "suspended": "Suspended",
    "offboarded": "Offboarded",
}


@pytest.fixture
def payout_step():
    onboarding_step_register(
        OnboardingStep(
            name="payout_ready",
            label="Add a payout account",
            state_label="Payout account added",
            done=lambda user: False,
        )
    )
    yield
    onboarding_step_unregister("payout_ready")


def test_every_state_has_a_label_in_words(payout_step):
    labels = dict(journey_state_choices())

    assert list(labels) == journey_states()
    assert all("_" not in label and label[0].isupper() for label in labels.values())
    assert {state: labels[state] for state in FIXED} == FIXED
    assert labels["terms_accepted"] == "Terms accepted"
    assert labels["payout_ready"] == "Payout account added"
    assert status_label(PREVIOUS) == "Where they were before suspension"


def test_a_step_without_a_state_label_reads_as_its_label():
    onboarding_step_register(
        OnboardingStep(name="id_checked", label="Check your ID", done=lambda user: False)
    )
    try:
        assert status_label("id_checked") == "Check your ID"
    finally:
        onboarding_step_unregister("id_checked")


def test_the_journey_page_history_shows_labels(client):
    person = make_user(Role.ANNOTATOR)
    client.force_login(person)

    page = client.get("/onboarding/").content.decode()
    history = page[page.index('class="journey-history"') :]

    assert "<td>Applicant</td><td>Profile complete</td>" in history
    assert "terms_accepted" not in history
    assert "Terms accepted" in history


def test_the_journey_api_gives_each_move_its_labels(client):
    person = make_user(Role.ANNOTATOR)
    client.force_login(person)

    body = client.get("/api/v1/onboarding/").json()

    assert body["status_label"] == "Terms accepted"
    latest = body["history"][0]
    assert (latest["to_status"], latest["to_status_label"]) == ("terms_accepted", "Terms accepted")
    assert latest["from_status_label"] == "Profile complete"


def test_the_people_list_and_api_show_a_registered_steps_label(
    client, payout_step, manager, make_member
):
    person = make_member()
    AnnotatorProfile.objects.filter(user=person).update(status="payout_ready")
    client.force_login(manager)

    page = client.get("/people/", {"status": "payout_ready"}).content.decode()
    rows = client.get("/api/v1/people/").json()["results"]

    assert "Payout account added" in page
    assert '<option value="payout_ready" selected>Payout account added</option>' in page
    assert [(r["status"], r["status_label"]) for r in rows] == [
        ("payout_ready", "Payout account added")
    ]
