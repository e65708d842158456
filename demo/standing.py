"""Demo data of probation and tiers (idempotent): a newcomer on probation, the probation and tier
computations run over the demo's history, and a promotion candidate in the managers' queue.

Call `demo_standing_seed(people=...)` after `demo_quality_seed` (it reads the work history that
seeds), with the demo people by e-mail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from quality.selectors import tier_records_for
from quality.services.standing import probation_sweep, tier_candidates_compute
from workforce.models import AnnotatorProfile, AnnotatorStatus, StandingDecision, TierCandidate
from workforce.selectors.tiers import tier_above, tier_of
from workforce.services.people import annotator_status_set
from workforce.services.tiers import tier_candidate_propose

NEWCOMER = "lucia@demo.quorum"
PROMISING = "annotator@demo.quorum"


def demo_standing_seed(*, people: dict[str, User], now: datetime | None = None) -> list[str]:
    """Seed standing: return what was created, for seed_demo's report."""
    now = now or timezone.now()
    created: list[str] = []
    newcomer = people.get(NEWCOMER)
    if newcomer is not None and not StandingDecision.objects.filter(user=newcomer).exists():
        profile = AnnotatorProfile.objects.filter(user=newcomer).first()
        if profile is not None and profile.status == AnnotatorStatus.ACTIVE:
            annotator_status_set(
                profile=profile,
                status=AnnotatorStatus.PROBATION,
                actor=None,
                reason="Demo: a newcomer on probation.",
            )
            created.append(f"{newcomer.email} on probation")
    decided = probation_sweep(now=now)
    if decided:
        created.append(f"{decided} probation decisions")
    # Last week's and this week's computations: two alike weeks make a candidate.
    proposed = 0
    for when in (now - timedelta(days=7), now):
        proposed = len(tier_candidates_compute(now=when).candidates)
    if proposed:
        created.append(f"{proposed} tier candidates")
    promising = people.get(PROMISING)
    if promising is not None and not TierCandidate.objects.filter(user=promising).exists():
        # The demo's history is too short for the weekly thresholds; show the queue anyway with
        # this person's measured record, marked as a demo proposal.
        tier = tier_of(user=promising)
        above = tier_above(tier)
        if above is not None:
            since = now - timedelta(days=int(settings.QUORUM_TIER_WINDOW_DAYS))
            record = tier_records_for([promising.pk], since=since, now=now)[promising.pk]
            tier_candidate_propose(
                user=promising,
                from_tier=tier,
                to_tier=above,
                evidence={**record.as_dict(), "tier": tier, "signal": "promote", "demo": True},
                now=now,
            )
            created.append(f"tier candidate for {promising.email}")
    return created
