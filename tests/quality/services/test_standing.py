"""Probation decided from evidence, and weekly tier candidates with hysteresis."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role, RoleGrant
from core.models import AuditEvent
from kit.intervals import wilson_interval
from labeling.models import Review
from quality.models import RuleAction, RuleActionKind
from quality.services.standing import (
    probation_evaluate,
    probation_sweep,
    tier_candidates_compute,
)
from tests.factories import make_user
from tests.labeling.factories import make_worker
from tests.quality.factories import gold_record, review_record, state_of, status_of
from workforce.models import (
    AnnotatorProfile,
    CandidateState,
    StandingDecision,
    StandingDecisionKind,
    TierCandidate,
    TierReading,
)
from workforce.selectors.tiers import tier_of
from workforce.services import annotator_status_set
from workforce.services.tiers import tier_candidate_approve

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
WEEK = timedelta(days=7)


def scores(right: int, n: int) -> list[float]:
    return [1.0] * right + [0.0] * (n - right)


@pytest.fixture
def newcomer():
    return make_worker(status="probation")


# --- Probation --------------------------------------------------------------------------------


def test_probation_ends_when_the_lower_bound_is_just_above_the_pass_threshold(project, newcomer):
    assert wilson_interval(48, 50).low > 0.85  # 0.865
    gold_record(project, newcomer, scores(48, 50), now=NOW)

    decision = probation_evaluate(user=newcomer, now=NOW)

    assert status_of(newcomer) == "active"
    assert decision.kind == StandingDecisionKind.PROBATION_PASSED
    assert decision.applied_by is None
    assert decision.evidence["n"] == 50
    assert decision.evidence["successes"] == 48
    assert decision.evidence["low"] == pytest.approx(wilson_interval(48, 50).low)
    assert decision.evidence["threshold"] == 0.85


def test_probation_goes_on_when_the_lower_bound_is_just_below_the_pass_threshold(project, newcomer):
    assert wilson_interval(47, 50).low < 0.85  # 0.838
    gold_record(project, newcomer, scores(47, 50), now=NOW)

    assert probation_evaluate(user=newcomer, now=NOW) is None

    assert status_of(newcomer) == "probation"
    assert not StandingDecision.objects.exists()


def test_a_lower_bound_exactly_at_the_threshold_does_not_end_probation(project, newcomer, settings):
    settings.QUORUM_PROBATION_PASS_LOWER = wilson_interval(48, 50).low
    gold_record(project, newcomer, scores(48, 50), now=NOW)

    assert probation_evaluate(user=newcomer, now=NOW) is None
    assert status_of(newcomer) == "probation"


def test_probation_needs_the_minimum_number_of_scored_items(project, newcomer, settings):
    settings.QUORUM_PROBATION_MIN_ITEMS = 51
    gold_record(project, newcomer, scores(50, 50), now=NOW)

    assert probation_evaluate(user=newcomer, now=NOW) is None
    assert status_of(newcomer) == "probation"


def test_review_verdicts_of_their_work_count_with_gold(project, newcomer, settings):
    settings.QUORUM_PROBATION_MIN_ITEMS = 50
    gold_record(project, newcomer, scores(30, 30), now=NOW - timedelta(hours=1))
    review_record(project, newcomer, ["approve"] * 18 + ["reject"] * 2)

    decision = probation_evaluate(user=newcomer, now=timezone.now())

    assert decision is not None
    assert (decision.evidence["n"], decision.evidence["successes"]) == (50, 48)


def test_an_upper_bound_just_below_the_floor_sends_them_back_to_training(project, newcomer):
    assert wilson_interval(23, 50).high < 0.6  # 0.596
    gold_record(project, newcomer, scores(23, 50), now=NOW)

    decision = probation_evaluate(user=newcomer, now=NOW, project_id=project.pk)

    assert decision.kind == StandingDecisionKind.RETRAINING
    assert decision.evidence["high"] == pytest.approx(wilson_interval(23, 50).high)
    assert decision.evidence["threshold"] == 0.6
    action = RuleAction.objects.get(user=newcomer)
    assert action.kind == RuleActionKind.REQUIRE_RETRAINING
    assert decision.evidence["rule_action"] == action.pk
    assert state_of(newcomer, project).needs_retraining is True
    assert status_of(newcomer) == "probation"


def test_an_upper_bound_just_above_the_floor_sends_nobody_back(project, newcomer):
    assert wilson_interval(24, 50).high > 0.6  # 0.615
    gold_record(project, newcomer, scores(24, 50), now=NOW)

    assert probation_evaluate(user=newcomer, now=NOW, project_id=project.pk) is None

    assert not RuleAction.objects.exists()


def test_after_a_send_back_only_newer_evidence_counts(project, newcomer):
    gold_record(project, newcomer, scores(23, 50), now=NOW)
    probation_evaluate(user=newcomer, now=NOW, project_id=project.pk)

    again = probation_evaluate(user=newcomer, now=NOW + timedelta(minutes=1))

    assert again is None
    assert StandingDecision.objects.count() == 1
    assert RuleAction.objects.count() == 1


def test_someone_not_on_probation_is_left_alone(project):
    regular = make_worker(status="active")
    gold_record(project, regular, scores(0, 50), now=NOW)

    assert probation_evaluate(user=regular, now=NOW) is None
    assert not RuleAction.objects.exists()


def test_the_sweep_decides_everyone_on_probation(project):
    good, poor = make_worker(status="probation"), make_worker(status="probation")
    gold_record(project, good, scores(50, 50), now=NOW)
    gold_record(project, poor, scores(10, 50), now=NOW)

    assert probation_sweep(now=NOW) == 2

    assert status_of(good) == "active"
    assert StandingDecision.objects.get(user=poor).kind == StandingDecisionKind.RETRAINING


# --- Tiers ------------------------------------------------------------------------------------


@pytest.fixture
def tier_settings(settings):
    settings.QUORUM_TIER_WINDOW_DAYS = 7
    settings.QUORUM_TIER_MIN_VOLUME = 40
    return settings


def make_reviewer(level):
    reviewer = make_user(Role.REVIEWER, level=level)
    profile = AnnotatorProfile.objects.get(user=reviewer)
    annotator_status_set(profile=profile, status="active", actor=None)
    return reviewer


def week_record(project, person, right, n, week):
    gold_record(project, person, scores(right, n), now=NOW + week * WEEK - timedelta(hours=1))


def compute(week):
    return tier_candidates_compute(now=NOW + week * WEEK)


def test_one_good_week_proposes_nothing_and_two_in_a_row_propose_a_promotion(
    project, tier_settings
):
    person = make_worker()
    week_record(project, person, 50, 50, 0)
    week_record(project, person, 50, 50, 1)

    assert compute(0).candidates == []
    [candidate] = compute(1).candidates

    assert (candidate.from_tier, candidate.to_tier) == ("annotator", "reviewer-1")
    assert candidate.direction == "promotion"
    assert candidate.evidence["accuracy"]["low"] >= 0.9
    assert candidate.evidence["previous_week_signal"] == "promote"


def test_someone_hovering_at_the_promotion_threshold_is_never_moved(project, tier_settings):
    person = make_worker()
    for week in range(6):
        # Above the promote threshold one week (50/50: low 0.93), below it the next (45/50:
        # low 0.79), always far above the demote threshold (high >= 0.95).
        week_record(project, person, 50 if week % 2 == 0 else 45, 50, week)

    proposed = [compute(week).candidates for week in range(6)]

    assert proposed == [[]] * 6
    signals = list(
        TierReading.objects.filter(user=person).order_by("week").values_list("signal", flat=True)
    )
    assert signals == ["promote", "hold"] * 3
    assert not TierCandidate.objects.exists()
    assert tier_of(user=person) == "annotator"


def test_a_promoted_reviewer_hovering_near_the_demotion_threshold_is_not_demoted(
    project, tier_settings
):
    reviewer = make_worker()
    week_record(project, reviewer, 50, 50, 0)
    week_record(project, reviewer, 50, 50, 1)
    compute(0)
    [candidate] = compute(1).candidates
    manager = make_user(Role.MANAGER)
    tier_candidate_approve(candidate=candidate, actor=manager)
    for week in range(2, 8):
        # Below the demote threshold one week (28/50: high 0.69), well above it the next.
        week_record(project, reviewer, 28 if week % 2 == 0 else 45, 50, week)

    proposed = [compute(week).candidates for week in range(2, 8)]

    assert proposed == [[]] * 6
    assert tier_of(user=reviewer) == "reviewer-1"


def test_two_poor_weeks_in_a_row_propose_a_demotion(project, tier_settings):
    reviewer = make_reviewer(2)
    week_record(project, reviewer, 20, 50, 0)
    week_record(project, reviewer, 20, 50, 1)

    compute(0)
    [candidate] = compute(1).candidates

    assert (candidate.from_tier, candidate.to_tier, candidate.direction) == (
        "reviewer-2",
        "reviewer-1",
        "demotion",
    )


def test_a_reviewer_needs_a_higher_level_to_have_upheld_them_to_be_promoted(project, tier_settings):
    reviewer = make_reviewer(1)
    week_record(project, reviewer, 50, 50, 0)
    week_record(project, reviewer, 50, 50, 1)

    assert compute(0).candidates == [] and compute(1).candidates == []

    for week in (2, 3):
        week_record(project, reviewer, 50, 50, week)
        author = make_worker()
        ids = review_record(project, author, ["approve"] * 30)
        Review.objects.filter(pk__in=ids).update(
            reviewer=reviewer, upheld=True, created_at=NOW + week * WEEK - timedelta(hours=2)
        )
    compute(2)
    [candidate] = compute(3).candidates
    assert candidate.to_tier == "reviewer-2"
    assert candidate.evidence["upheld"]["n"] == 30


def test_computing_again_in_the_same_week_does_not_count_as_a_second_week(project, tier_settings):
    person = make_worker()
    week_record(project, person, 50, 50, 0)

    first = tier_candidates_compute(now=NOW)
    second = tier_candidates_compute(now=NOW + timedelta(days=2))

    assert first.candidates == second.candidates == []
    assert TierReading.objects.filter(user=person).count() == 1


def test_a_recomputation_supersedes_the_pending_candidate(project, tier_settings):
    person = make_worker()
    for week in range(3):
        week_record(project, person, 50, 50, week)
    compute(0)
    [first] = compute(1).candidates

    [second] = compute(2).candidates

    first.refresh_from_db()
    assert first.state == CandidateState.SUPERSEDED
    assert second.state == CandidateState.PENDING


def test_approving_a_promotion_grants_the_reviewer_role_through_the_role_service(
    project, tier_settings
):
    person = make_worker()
    week_record(project, person, 50, 50, 0)
    week_record(project, person, 50, 50, 1)
    compute(0)
    [candidate] = compute(1).candidates
    manager = make_user(Role.MANAGER)

    tier_candidate_approve(candidate=candidate, actor=manager)

    assert RoleGrant.objects.get(user=person, role=Role.REVIEWER).level == 1
    assert AuditEvent.objects.filter(action="role.granted", actor=manager).exists()
    assert AuditEvent.objects.filter(action="tier_candidate.approved").exists()
