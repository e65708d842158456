"""Reads of tiers and standing: a person's tier, its neighbours, decisions and candidates.

A tier is "annotator", "reviewer-<level>" (the level of their reviewer role) or "lead" (a
`LeadGrant`, the top tier). Tiers are ordered: annotator < reviewer-1 < ... < lead.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import Role, RoleGrant
from workforce.models import (
    CandidateState,
    LeadGrant,
    StandingDecision,
    TierCandidate,
    TierReading,
)

ANNOTATOR = "annotator"
LEAD = "lead"
_REVIEWER_PREFIX = "reviewer-"


def reviewer_tier(level: int) -> str:
    return f"{_REVIEWER_PREFIX}{level}"


def tier_review_level(tier: str) -> int | None:
    """The reviewer level a tier stands for (None for annotator and lead)."""
    if tier.startswith(_REVIEWER_PREFIX):
        return int(tier.removeprefix(_REVIEWER_PREFIX))
    return None


def tier_max_review_level() -> int:
    return int(settings.QUORUM_TIER_MAX_REVIEW_LEVEL)


def tier_is_valid(tier: str) -> bool:
    if tier in (ANNOTATOR, LEAD):
        return True
    rest = tier.removeprefix(_REVIEWER_PREFIX) if tier.startswith(_REVIEWER_PREFIX) else ""
    return rest.isdigit() and 1 <= int(rest) <= tier_max_review_level()


def tier_rank(tier: str) -> int:
    """Order of tiers: annotator 0, reviewer-k k, lead above every reviewer level."""
    if tier == ANNOTATOR:
        return 0
    if tier == LEAD:
        return tier_max_review_level() + 1
    level = tier_review_level(tier)
    if level is None:
        raise ValueError(f"Unknown tier {tier!r}.")
    return level


def tier_above(tier: str) -> str | None:
    """The tier a promotion from `tier` leads to; None above the top reviewer level.

    Lead is granted by a manager, not computed: reviewers at the top level have no candidate.
    """
    if tier == LEAD:
        return None
    level = tier_review_level(tier) or 0
    return reviewer_tier(level + 1) if level < tier_max_review_level() else None


def tier_below(tier: str) -> str | None:
    """The tier a demotion from `tier` leads to; None for annotators."""
    if tier == LEAD:
        return reviewer_tier(tier_max_review_level())
    level = tier_review_level(tier)
    if level is None:
        return None
    return reviewer_tier(level - 1) if level > 1 else ANNOTATOR


def tier_label(tier: str) -> str:
    level = tier_review_level(tier)
    if level is not None:
        return f"Reviewer level {level}"
    return "Lead" if tier == LEAD else "Annotator"


def tiers_of(user_ids: Collection[int]) -> dict[int, str]:
    """Each person's current tier, in two queries."""
    tiers = dict.fromkeys(user_ids, ANNOTATOR)
    grants = RoleGrant.objects.filter(user_id__in=list(user_ids), role=Role.REVIEWER)
    for user_id, level in grants.values_list("user_id", "level"):
        tiers[user_id] = reviewer_tier(level or 1)  # a reviewer always has a level (constraint)
    for user_id in LeadGrant.objects.filter(user_id__in=list(user_ids)).values_list(
        "user_id", flat=True
    ):
        tiers[user_id] = LEAD
    return tiers


def tier_of(*, user: Any) -> str:
    return tiers_of([user.pk])[user.pk]


def standing_decisions_of(*, user: Any) -> QuerySet[StandingDecision]:
    """The person's standing decisions, newest first."""
    return StandingDecision.objects.filter(user_id=user.pk).select_related("applied_by")


def standing_decision_latest(*, user_id: int) -> StandingDecision | None:
    return StandingDecision.objects.filter(user_id=user_id).order_by("-created_at", "-pk").first()


def tier_candidates_for(users: QuerySet[Any]) -> QuerySet[TierCandidate]:
    """Candidates of the people in `users` (the caller's scoped people), oldest first."""
    return TierCandidate.objects.filter(user__in=users).select_related("user", "decided_by")


def tier_candidate_pending_of(*, user: Any) -> TierCandidate | None:
    return TierCandidate.objects.filter(user_id=user.pk, state=CandidateState.PENDING).first()


def tier_candidates_of(*, user: Any) -> QuerySet[TierCandidate]:
    """The person's own candidacies, newest first."""
    return TierCandidate.objects.filter(user_id=user.pk).order_by("-computed_at", "-pk")


def tier_readings_in_week(user_ids: Collection[int], week: date) -> dict[int, TierReading]:
    readings = TierReading.objects.filter(user_id__in=list(user_ids), week=week)
    return {reading.user_id: reading for reading in readings}
