"""Writes of standing and tiers: decisions, weekly readings, candidates and their outcome.

`quality` computes from people's measured record and calls these; managers approve or decline
candidates. A tier change goes through accounts' role service (the reviewer role at a level) and
`LeadGrant` for the lead tier; every change is audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, RoleGrant, User
from accounts.services import role_grant, role_revoke
from core.audit import audit_record
from core.errors import Conflict, ValidationFailed
from workforce.models import (
    CandidateState,
    LeadGrant,
    NotificationKind,
    StandingDecision,
    StandingDecisionKind,
    TierCandidate,
    TierDirection,
    TierReading,
    TierSignal,
)
from workforce.selectors.tiers import (
    LEAD,
    tier_is_valid,
    tier_label,
    tier_max_review_level,
    tier_of,
    tier_rank,
    tier_review_level,
)
from workforce.services.notifications import notify


@transaction.atomic
def standing_decision_record(
    *,
    user: User,
    kind: StandingDecisionKind | str,
    evidence: dict[str, Any],
    applied_by: User | None = None,
    now: datetime | None = None,
) -> StandingDecision:
    """Record a change of the person's standing with the numbers that caused it; audited."""
    decision = StandingDecision.objects.create(
        user=user,
        kind=StandingDecisionKind(kind),
        evidence=evidence,
        applied_by=applied_by,
        created_at=now or timezone.now(),
    )
    audit_record(
        actor=applied_by,
        action="standing.decided",
        target=decision,
        after={"user": user.pk, "kind": decision.kind, "evidence": evidence},
    )
    return decision


@transaction.atomic
def tier_reading_record(
    *,
    user: User,
    week: date,
    tier: str,
    signal: TierSignal | str,
    evidence: dict[str, Any],
    now: datetime,
) -> TierReading:
    """Store this week's verdict on the person (a later computation in the week replaces it).

    A reading is a measurement, not a decision: it changes nothing about the person and is not
    audited; the candidate it may lead to is.
    """
    reading, _ = TierReading.objects.update_or_create(
        user=user,
        week=week,
        defaults={
            "tier": tier,
            "signal": TierSignal(signal),
            "evidence": evidence,
            "computed_at": now,
        },
    )
    return reading


def _candidate_lock_pending(user_id: int) -> TierCandidate | None:
    return (
        TierCandidate.objects.select_for_update()
        .filter(user_id=user_id, state=CandidateState.PENDING)
        .first()
    )


def _supersede(candidate: TierCandidate, *, now: datetime) -> None:
    candidate.state = CandidateState.SUPERSEDED
    candidate.decided_at = now
    candidate.save(update_fields=["state", "decided_at"])
    audit_record(
        actor=None,
        action="tier_candidate.superseded",
        target=candidate,
        before={"state": CandidateState.PENDING.value},
        after={"state": candidate.state},
    )


@transaction.atomic
def tier_candidates_supersede(*, user: User, now: datetime) -> int:
    """End the person's pending candidate, if any, as superseded by a newer computation."""
    pending = _candidate_lock_pending(user.pk)
    if pending is None:
        return 0
    _supersede(pending, now=now)
    return 1


@transaction.atomic
def tier_candidate_propose(
    *,
    user: User,
    from_tier: str,
    to_tier: str,
    evidence: dict[str, Any],
    now: datetime,
) -> TierCandidate:
    """Propose moving the person to `to_tier`; a pending candidate of theirs is superseded."""
    for name, tier in (("from_tier", from_tier), ("to_tier", to_tier)):
        if not tier_is_valid(tier):
            raise ValidationFailed(f"Unknown tier {tier!r}.", fields={name: ["Unknown tier."]})
    if from_tier == to_tier:
        raise ValidationFailed(
            "A candidate moves a person to another tier.",
            fields={"to_tier": ["Must differ from the current tier."]},
        )
    User.objects.select_for_update().filter(pk=user.pk).first()
    pending = _candidate_lock_pending(user.pk)
    if pending is not None:
        _supersede(pending, now=now)
    promoting = tier_rank(to_tier) > tier_rank(from_tier)
    candidate = TierCandidate.objects.create(
        user=user,
        from_tier=from_tier,
        to_tier=to_tier,
        direction=TierDirection.PROMOTION if promoting else TierDirection.DEMOTION,
        evidence=evidence,
        computed_at=now,
    )
    audit_record(
        actor=None,
        action="tier_candidate.proposed",
        target=candidate,
        after={
            "user": user.pk,
            "from_tier": from_tier,
            "to_tier": to_tier,
            "direction": candidate.direction,
            "evidence": evidence,
        },
    )
    return candidate


@transaction.atomic
def tier_set(*, user: User, tier: str, actor: User | None, reason: str = "") -> str:
    """Put the person in `tier`: grant, change or revoke the reviewer role, grant or end lead.

    Reviewer levels go through accounts' role service (audited there); lead is a `LeadGrant`
    (a lead keeps the top reviewer level). Return the tier they were in.
    """
    if not tier_is_valid(tier):
        raise ValidationFailed(f"Unknown tier {tier!r}.", fields={"tier": ["Unknown tier."]})
    User.objects.select_for_update().filter(pk=user.pk).first()
    before = tier_of(user=user)
    if before == tier:
        return before
    if tier == LEAD:
        role_grant(user=user, role=Role.REVIEWER, level=tier_max_review_level(), actor=actor)
        LeadGrant.objects.get_or_create(user=user, defaults={"granted_by": actor})
    else:
        LeadGrant.objects.filter(user=user).delete()
        level = tier_review_level(tier)
        if level is not None:
            role_grant(user=user, role=Role.REVIEWER, level=level, actor=actor)
        elif RoleGrant.objects.filter(user=user, role=Role.REVIEWER).exists():
            role_revoke(user=user, role=Role.REVIEWER, actor=actor)
    audit_record(
        actor=actor,
        action="tier.changed",
        target=user,
        before={"tier": before},
        after={"tier": tier, "reason": reason},
    )
    return before


def _candidate_lock(candidate: TierCandidate) -> TierCandidate:
    locked = TierCandidate.objects.select_for_update().get(pk=candidate.pk)
    if locked.state != CandidateState.PENDING:
        raise Conflict(f"This candidate is already {locked.get_state_display().lower()}.")
    return locked


@transaction.atomic
def tier_candidate_approve(
    *, candidate: TierCandidate, actor: User, note: str = "", now: datetime | None = None
) -> TierCandidate:
    """Approve the move: the person goes to the candidate's tier (role service); audited.

    Raises Conflict when the candidate is no longer pending or the person's tier changed since it
    was computed (its evidence was about another tier).
    """
    User.objects.select_for_update().filter(pk=candidate.user_id).first()
    locked = _candidate_lock(candidate)
    person = User.objects.get(pk=locked.user_id)
    current = tier_of(user=person)
    if current != locked.from_tier:
        raise Conflict(
            f"{person.email} is now {tier_label(current)}, not {tier_label(locked.from_tier)}: "
            "the candidate is out of date; compute again."
        )
    tier_set(
        user=person,
        tier=locked.to_tier,
        actor=actor,
        reason=f"Tier candidate {locked.pk} approved.",
    )
    promoted = locked.direction == TierDirection.PROMOTION
    notify(
        user=person,
        kind=NotificationKind.PROMOTED if promoted else NotificationKind.DEMOTED,
        title=f"{'Promoted' if promoted else 'Moved'} to {tier_label(locked.to_tier)}",
        body=" ".join(
            part
            for part in (
                note,
                "" if promoted else "Your standing page shows the numbers and what to improve.",
            )
            if part
        ),
        url=reverse("home"),
    )
    return _decide(locked, CandidateState.APPROVED, actor=actor, note=note, now=now)


@transaction.atomic
def tier_candidate_decline(
    *, candidate: TierCandidate, actor: User, note: str, now: datetime | None = None
) -> TierCandidate:
    """Decline the move with a note saying why; the person's tier stays; audited."""
    note = note.strip()
    if not note:
        raise ValidationFailed(
            "Say why the candidate is declined.", fields={"note": ["Required to decline."]}
        )
    locked = _candidate_lock(candidate)
    return _decide(locked, CandidateState.DECLINED, actor=actor, note=note, now=now)


def _decide(
    candidate: TierCandidate,
    state: CandidateState,
    *,
    actor: User,
    note: str,
    now: datetime | None,
) -> TierCandidate:
    candidate.state = state
    candidate.decided_by = actor
    candidate.decided_at = now or timezone.now()
    candidate.note = note
    candidate.save(update_fields=["state", "decided_by", "decided_at", "note"])
    audit_record(
        actor=actor,
        action=f"tier_candidate.{state.value}",
        target=candidate,
        before={"state": CandidateState.PENDING.value},
        after={"state": state.value, "note": note, "to_tier": candidate.to_tier},
    )
    return candidate
