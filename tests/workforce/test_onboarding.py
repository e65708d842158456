"""The onboarding journey: its map of moves, the walk forward, approval, extra steps, the checklist."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from core.errors import ValidationFailed
from core.models import AuditEvent
from tests.factories import make_user
from tests.payments.factories import make_payout_account
from workforce.models import (
    AnnotatorProfile,
    CheckAttempt,
    JourneyEvent,
    Notification,
    Skill,
    SkillCheck,
)
from workforce.selectors import worker_eligibility
from workforce.selectors.onboarding import approval_queue, onboarding_checklist, onboarding_summary
from workforce.selectors.onboarding_steps import (
    PREVIOUS,
    OnboardingStep,
    journey_states,
    journey_transitions,
    onboarding_step_register,
    onboarding_step_unregister,
    onboarding_steps,
)
from workforce.services import annotator_status_set, skill_level_grant
from workforce.services.onboarding import (
    journey_approve,
    journey_decline,
    journey_refresh,
    journey_reinstate,
    journey_suspend,
    journey_transition,
)
from workforce.services.teams import team_member_add

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

ALLOWED = sorted(
    (here, there) for here, targets in journey_transitions().items() for there in targets
)
REFUSED = sorted(
    (here, there)
    for here in journey_states()
    for there in journey_states()
    if here != there
    and there not in journey_transitions()[here]
    and not (here == "suspended" and PREVIOUS in journey_transitions()[here])
)


@pytest.fixture
def manager():
    return make_user(Role.MANAGER, mfa=True)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def profile_at(status: str, *, before_suspension: str = "", team=None) -> AnnotatorProfile:
    """An annotator put at `status` directly, as if the journey had brought them there (and, if
    `team` is given, a member of it, so that its managers see them)."""
    user = make_user(Role.ANNOTATOR)
    if team is not None:
        team_member_add(team=team, user=user, actor=None)
    AnnotatorProfile.objects.filter(user=user).update(
        status=status, status_before_suspension=before_suspension
    )
    return AnnotatorProfile.objects.get(user=user)


def training_check(**fields) -> SkillCheck:
    skill, _ = Skill.objects.get_or_create(slug="sentiment", defaults={"name": "Sentiment"})
    return SkillCheck.objects.create(skill=skill, kind="training", name="Basics", **fields)


def attempt(user, check: SkillCheck, *, state: str, number: int = 1, finished_at=None):
    return CheckAttempt.objects.create(
        check_ref=check,
        user=user,
        number=number,
        state=state,
        started_at=(finished_at or NOW) - timedelta(minutes=10),
        finished_at=finished_at or NOW,
    )


def test_sign_up_moves_a_new_annotator_to_terms_accepted_each_move_audited():
    person = make_user(Role.ANNOTATOR)

    profile = AnnotatorProfile.objects.get(user=person)
    moves = list(
        JourneyEvent.objects.filter(user=person)
        .order_by("id")
        .values_list("from_status", "to_status", "actor")
    )
    audits = AuditEvent.objects.filter(action="annotator.status_changed").order_by("id")
    assert profile.status == "terms_accepted"
    assert moves == [
        ("applicant", "profile_complete", person.pk),
        ("profile_complete", "terms_accepted", person.pk),
    ]
    assert [(a.before, a.after["status"]) for a in audits] == [
        ({"status": "applicant"}, "profile_complete"),
        ({"status": "profile_complete"}, "terms_accepted"),
    ]


@pytest.fixture
def steps_done():
    """Every onboarding step counts as done, so the map alone decides a move."""
    originals = onboarding_steps()
    for step in originals:
        onboarding_step_register(dataclasses.replace(step, done=lambda user: True))
    yield
    for step in originals:
        onboarding_step_register(step)


@pytest.mark.usefixtures("steps_done")
@pytest.mark.parametrize(("here", "there"), ALLOWED)
def test_every_move_in_the_map_works_and_is_audited_with_a_journey_event(manager, here, there):
    profile = profile_at(here, before_suspension="active" if here == "suspended" else "")
    target = "active" if there == PREVIOUS else there

    moved = journey_transition(
        profile=profile, to=target, actor=manager, reason="why not", evidence={"n": 3}
    )

    assert moved.status == target
    event = AuditEvent.objects.filter(action="annotator.status_changed").latest("id")
    assert event.actor == manager
    assert event.before == {"status": here}
    assert event.after == {"status": target, "reason": "why not", "evidence": {"n": 3}}
    history = JourneyEvent.objects.filter(user=profile.user).latest("id")
    assert (history.from_status, history.to_status, history.actor) == (here, target, manager)
    assert (history.reason, history.evidence) == ("why not", {"n": 3})


@pytest.mark.usefixtures("steps_done")
@pytest.mark.parametrize(("here", "there"), REFUSED)
def test_every_move_outside_the_map_is_refused_naming_the_status(manager, here, there):
    profile = profile_at(here, before_suspension="active" if here == "suspended" else "")
    events = JourneyEvent.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        journey_transition(profile=profile, to=there, actor=manager, reason="try")

    assert "cannot be moved to" in refused.value.message
    assert "status" in refused.value.extra["fields"]
    assert AnnotatorProfile.objects.get(pk=profile.pk).status == here
    assert JourneyEvent.objects.count() == events


def test_nobody_moves_a_person_to_a_step_they_have_not_done(manager_client, make_member):
    person = make_member()

    response = manager_client.post(
        f"/api/v1/people/{person.pk}/status/",
        {"status": "trained", "reason": "I trust them"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["status"] == [
        "This person has not done “Pass a training module” yet."
    ]
    assert AnnotatorProfile.objects.get(user=person).status == "terms_accepted"


def test_an_unknown_state_is_refused_naming_the_status(manager):
    profile = profile_at("terms_accepted")

    with pytest.raises(ValidationFailed) as refused:
        annotator_status_set(profile=profile, status="wizard", actor=manager)

    assert refused.value.extra["fields"]["status"][0].startswith("'wizard' is not a state")


def test_a_full_journey_reaches_probation_with_no_manager_action():
    person = make_user(Role.ANNOTATOR)
    assert worker_eligibility(user=person, skill_id=None, min_level=1) is not None

    attempt(person, training_check(), state="passed")
    journey_refresh(user=person, actor=None)
    skill_level_grant(user=person, skill=Skill.objects.get(slug="sentiment"), level=1, actor=None)
    make_payout_account(person)

    assert AnnotatorProfile.objects.get(user=person).status == "probation"
    assert list(
        JourneyEvent.objects.filter(user=person).order_by("id").values_list("to_status", flat=True)
    ) == [
        "profile_complete",
        "terms_accepted",
        "trained",
        "qualified",
        "payout_account_ready",
        "probation",
    ]
    assert not JourneyEvent.objects.filter(user=person, actor__isnull=False).exclude(actor=person)
    assert worker_eligibility(user=person, skill_id=None, min_level=1) is None
    assert Notification.objects.get(user=person).kind == "account_activated"


def test_with_approval_on_a_finished_journey_waits_until_a_manager_approves(
    settings, manager, manager_client, make_member
):
    settings.QUORUM_ONBOARDING_APPROVAL = True
    person = make_member()
    attempt(person, training_check(), state="passed")
    make_payout_account(person)
    skill_level_grant(user=person, skill=Skill.objects.get(slug="sentiment"), level=1, actor=None)

    waiting = AnnotatorProfile.objects.get(user=person)
    listed = manager_client.get("/api/v1/onboarding/approvals/").json()
    response = manager_client.post(
        f"/api/v1/onboarding/approvals/{person.pk}/approve/", {}, content_type="application/json"
    )

    assert waiting.status == "approval"
    assert [row["user_id"] for row in listed["results"]] == [person.pk]
    assert response.status_code == 200
    assert response.json()["status"] == "probation"
    assert AnnotatorProfile.objects.get(user=person).status == "probation"
    assert JourneyEvent.objects.filter(user=person).latest("id").actor == manager


def test_a_declined_applicant_is_offboarded_with_the_reason_they_can_read(settings, manager):
    settings.QUORUM_ONBOARDING_APPROVAL = True
    profile = profile_at("approval")

    with pytest.raises(ValidationFailed) as no_reason:
        journey_decline(profile=profile, actor=manager, reason="  ")
    journey_decline(profile=profile, actor=manager, reason="Duplicate account")

    assert "reason" in no_reason.value.extra["fields"]
    assert AnnotatorProfile.objects.get(pk=profile.pk).status == "offboarded"
    assert JourneyEvent.objects.filter(user=profile.user).latest("id").reason == (
        "Duplicate account"
    )
    assert not approval_queue(users=profile.user.__class__.objects.all())


def test_only_a_person_waiting_for_approval_can_be_approved(manager):
    profile = profile_at("trained")

    with pytest.raises(ValidationFailed) as refused:
        journey_approve(profile=profile, actor=manager)

    assert "waiting for approval" in refused.value.message
    assert AnnotatorProfile.objects.get(pk=profile.pk).status == "trained"


@pytest.fixture
def payout_step():
    ready: set[int] = set()
    onboarding_step_register(
        OnboardingStep(
            name="payout_ready",
            label="Add a payout account",
            done=lambda user: user.pk in ready,
            url_name="workforce:profile",
        )
    )
    yield ready
    onboarding_step_unregister("payout_ready")


def test_a_registered_step_holds_people_before_probation_until_it_is_done(payout_step):
    person = make_user(Role.ANNOTATOR)
    attempt(person, training_check(), state="passed")
    make_payout_account(person)
    skill_level_grant(user=person, skill=Skill.objects.get(slug="sentiment"), level=1, actor=None)
    held = AnnotatorProfile.objects.get(user=person).status
    checklist = onboarding_checklist(user=person)

    payout_step.add(person.pk)
    journey_refresh(user=person)

    assert held == "payout_account_ready"
    assert checklist is not None and checklist.current is not None
    assert (checklist.current.name, checklist.current.url) == ("payout_ready", "/profile/")
    assert list(
        JourneyEvent.objects.filter(user=person).order_by("id").values_list("to_status", flat=True)
    )[-2:] == ["payout_ready", "probation"]


def test_the_checklist_shows_done_current_next_and_the_cooldown_that_blocks(client):
    person = make_user(Role.ANNOTATOR)
    check = training_check(cooldown_seconds=3900)
    attempt(person, check, state="failed", finished_at=NOW)

    checklist = onboarding_checklist(user=person, now=NOW + timedelta(minutes=5))
    later = onboarding_checklist(user=person, now=NOW + timedelta(seconds=3900))
    client.force_login(person)
    html = client.get("/work/").content.decode()

    assert checklist is not None and later is not None
    assert [(i.name, i.state) for i in checklist.items] == [
        ("profile_complete", "done"),
        ("terms_accepted", "done"),
        ("trained", "current"),
        ("qualified", "next"),
        ("payout_account_ready", "next"),
    ]
    assert checklist.items[2].blocked_reason == "Next attempt from 2026-11-20 13:05 UTC."
    assert later.items[2].blocked_reason is None
    assert 'id="onboarding-checklist"' in html
    assert 'data-step="trained" data-state="current"' in html


def test_a_check_whose_attempts_are_used_up_blocks_for_good():
    person = make_user(Role.ANNOTATOR)
    check = training_check(max_attempts=2)
    attempt(person, check, state="failed", number=1, finished_at=NOW - timedelta(days=2))
    attempt(person, check, state="abandoned", number=2, finished_at=NOW - timedelta(days=1))

    checklist = onboarding_checklist(user=person, now=NOW)

    assert checklist is not None and checklist.current is not None
    assert "used every attempt" in (checklist.current.blocked_reason or "")


def test_a_working_person_sees_no_checklist(client):
    person = make_user(Role.ANNOTATOR)
    annotator_status_set(
        profile=AnnotatorProfile.objects.get(user=person), status="active", actor=None
    )
    client.force_login(person)

    html = client.get("/work/").content.decode()

    assert 'id="onboarding-checklist"' not in html


def test_a_suspended_person_is_reinstated_to_where_they_were_and_told(manager):
    active = profile_at("active")
    onboarding = profile_at("trained")

    journey_suspend(profile=active, actor=manager, reason="Spam answers")
    journey_suspend(profile=onboarding, actor=manager, reason="Fake profile?")
    journey_reinstate(profile=active, actor=manager)
    journey_reinstate(profile=onboarding, actor=manager)

    assert AnnotatorProfile.objects.get(pk=active.pk).status == "active"
    assert AnnotatorProfile.objects.get(pk=onboarding.pk).status == "trained"
    told = Notification.objects.filter(user=active.user).order_by("id")
    assert [n.kind for n in told] == ["suspended", "account_activated"]
    assert told[0].body == "Spam answers"


def test_the_summary_counts_people_per_state_and_names_who_waits_longest(
    manager_client, managed_team
):
    first = profile_at("terms_accepted", team=managed_team)
    second = profile_at("terms_accepted", team=managed_team)
    queued = profile_at("approval", team=managed_team)
    profile_at("active", team=managed_team)
    AnnotatorProfile.objects.filter(pk=first.pk).update(status_changed_at=NOW - timedelta(days=3))
    AnnotatorProfile.objects.filter(pk=second.pk).update(status_changed_at=NOW - timedelta(days=1))
    AnnotatorProfile.objects.filter(pk=queued.pk).update(status_changed_at=NOW)

    rows = {r.status: r for r in onboarding_summary(users=first.user.__class__.objects.all())}
    api = {r["status"]: r for r in manager_client.get("/api/v1/onboarding/summary/").json()}
    page = manager_client.get("/onboarding/manage/").content.decode()

    assert "active" not in rows
    assert (rows["terms_accepted"].count, rows["terms_accepted"].oldest_user_id) == (
        2,
        first.user_id,
    )
    assert rows["terms_accepted"].oldest_since == NOW - timedelta(days=3)
    assert (rows["approval"].count, rows["applicant"].count) == (1, 0)
    assert api["terms_accepted"]["count"] == 2
    assert api["terms_accepted"]["oldest_email"] == first.user.email
    assert first.user.email in page and queued.user.email in page


def test_annotators_see_their_own_journey_but_not_the_summary_or_others(client):
    person = make_user(Role.ANNOTATOR)
    other = make_user(Role.ANNOTATOR)
    client.force_login(person)

    own = client.get("/api/v1/onboarding/")
    summary = client.get("/api/v1/onboarding/summary/")
    someone = client.get(f"/api/v1/onboarding/people/{other.pk}/")
    approve = client.post(
        f"/api/v1/onboarding/approvals/{other.pk}/approve/", {}, content_type="application/json"
    )

    assert own.status_code == 200
    assert own.json()["status"] == "terms_accepted"
    assert [s["state"] for s in own.json()["steps"]] == ["done", "done", "current", "next", "next"]
    assert len(own.json()["history"]) == 2
    assert (summary.status_code, someone.status_code, approve.status_code) == (403, 403, 403)


def test_a_manager_gets_404_for_a_profile_outside_their_scope(manager_client):
    customer = make_user(Role.CUSTOMER)
    AnnotatorProfile.objects.create(
        user=customer, country="KE", time_zone="Africa/Nairobi", languages=["en"]
    )

    journey = manager_client.get(f"/api/v1/onboarding/people/{customer.pk}/")
    move = manager_client.post(
        f"/api/v1/onboarding/people/{customer.pk}/move/",
        {"move": "suspend", "reason": "x"},
        content_type="application/json",
    )
    page = manager_client.get(f"/onboarding/people/{customer.pk}/")

    assert (journey.status_code, move.status_code, page.status_code) == (404, 404, 404)


def test_a_manager_moves_a_person_by_api_and_a_refused_move_names_the_status(
    manager_client, make_member
):
    person = make_member()

    suspended = manager_client.post(
        f"/api/v1/onboarding/people/{person.pk}/move/",
        {"move": "suspend", "reason": "Checking identity"},
        content_type="application/json",
    )
    refused = manager_client.post(
        f"/api/v1/people/{person.pk}/status/",
        {"status": "trained"},
        content_type="application/json",
    )
    reinstated = manager_client.post(
        f"/api/v1/onboarding/people/{person.pk}/move/",
        {"move": "reinstate"},
        content_type="application/json",
    )

    assert suspended.json()["status"] == "suspended"
    assert refused.status_code == 400
    assert "status" in refused.json()["extra"]["fields"]
    assert reinstated.json()["status"] == "terms_accepted"


def test_the_portal_status_form_shows_why_a_move_is_refused(manager_client, make_member):
    person = make_member()

    response = manager_client.post(
        f"/people/{person.pk}/", {"op": "status", "status": "approval", "reason": ""}
    )

    assert response.status_code == 200
    assert "cannot be moved to waiting for approval" in response.content.decode()
    assert AnnotatorProfile.objects.get(user=person).status == "terms_accepted"


def test_the_approval_page_approves_and_declines(settings, manager_client, managed_team):
    settings.QUORUM_ONBOARDING_APPROVAL = True
    yes = profile_at("approval", team=managed_team)
    no = profile_at("approval", team=managed_team)

    manager_client.post("/onboarding/manage/", {"user_id": yes.user_id, "decision": "approve"})
    refused = manager_client.post(
        "/onboarding/manage/", {"user_id": no.user_id, "decision": "decline", "reason": ""}
    )
    manager_client.post(
        "/onboarding/manage/", {"user_id": no.user_id, "decision": "decline", "reason": "No"}
    )

    assert "Say why" in refused.content.decode()
    assert AnnotatorProfile.objects.get(pk=yes.pk).status == "probation"
    assert AnnotatorProfile.objects.get(pk=no.pk).status == "offboarded"


def test_the_time_of_a_move_is_the_time_given():
    profile = profile_at("terms_accepted")
    when = timezone.now() - timedelta(hours=5)

    journey_transition(profile=profile, to="suspended", actor=None, now=when)

    assert AnnotatorProfile.objects.get(pk=profile.pk).status_changed_at == when


def test_the_onboarding_page_does_a_fixed_number_of_queries(settings, manager_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.QUORUM_ONBOARDING_APPROVAL = True
    for _ in range(2):
        profile_at("approval")
    with CaptureQueriesContext(connection) as few:
        manager_client.get("/onboarding/manage/")
    for _ in range(8):
        profile_at("approval")
        profile_at("trained")

    with CaptureQueriesContext(connection) as many:
        manager_client.get("/onboarding/manage/")

    # One more state with people in it costs one query (who waits longest there), no more.
    assert len(many) <= len(few) + 1


def test_the_journey_and_notifications_are_in_the_persons_data_and_erased_with_it(manager):
    import json

    from accounts.erasure import erasure_request_create, erasure_request_execute
    from accounts.personal_data import personal_data_export

    profile = profile_at("active")
    journey_suspend(profile=profile, actor=manager, reason="Said rude things about Zed")
    admin = make_user(Role.ADMIN, mfa=True)

    exported = json.loads("".join(personal_data_export(user=profile.user)))["sections"]["profile"]
    request = erasure_request_create(user=profile.user, requested_by=profile.user)
    erasure_request_execute(request=request, actor=admin)

    assert exported["journey"][-1]["reason"] == "Said rude things about Zed"
    assert exported["notifications"][0]["kind"] == "suspended"
    assert not JourneyEvent.objects.filter(user=profile.user).exclude(reason="").exists()
    assert not Notification.objects.filter(user=profile.user).exists()
