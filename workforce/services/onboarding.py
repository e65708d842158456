"""The onboarding journey's moves: one checked transition, the automatic walk forward, and the
named moves managers make (approve, decline, suspend, reinstate, offboard, re-onboard).

The steps and the map of allowed moves are data in workforce/selectors/onboarding_steps.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import ValidationFailed
from workforce.models import (
    WORKING_STATUSES,
    AnnotatorProfile,
    AnnotatorStatus,
    JourneyEvent,
    NotificationKind,
)
from workforce.selectors.onboarding_steps import (
    PREVIOUS,
    OnboardingStep,
    journey_states,
    journey_transitions,
    onboarding_step_register,
    onboarding_step_unregister,
    onboarding_steps,
    status_label,
)
from workforce.services.notifications import notify

__all__ = [
    # The registry lives with the reads (selectors may not import services); re-exported here
    # so that an app adding a step imports everything about the journey from one place.
    "OnboardingStep",
    "journey_approve",
    "journey_decline",
    "journey_offboard",
    "journey_refresh",
    "journey_reinstate",
    "journey_reonboard",
    "journey_suspend",
    "journey_transition",
    "onboarding_step_register",
    "onboarding_step_unregister",
]

S = AnnotatorStatus


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"status": [message]})


def _reinstate_to(profile: AnnotatorProfile) -> str:
    # Profiles suspended before the journey recorded where they were go back to probation.
    return profile.status_before_suspension or S.PROBATION.value


def _allowed(profile: AnnotatorProfile) -> list[str]:
    moves = journey_transitions().get(profile.status, frozenset())
    return sorted(_reinstate_to(profile) if m == PREVIOUS else m for m in moves)


def _tell(user: User, here: str, there: str, reason: str) -> None:
    working = {s.value for s in WORKING_STATUSES}
    if there in working and here not in working:
        notify(
            user=user,
            kind=NotificationKind.ACCOUNT_ACTIVATED,
            title="You can take work now",
            body=f"Your account is {status_label(there).lower()}."
            + (f" {reason}" if reason else ""),
            url=reverse("home"),
        )
    elif there == S.ACTIVE and here == S.PROBATION:
        notify(
            user=user,
            kind=NotificationKind.ACCOUNT_ACTIVATED,
            title="Your probation is over",
            body=reason or "Your work met the bar; you are now a regular annotator.",
            url=reverse("home"),
        )
    elif there == S.SUSPENDED:
        notify(
            user=user,
            kind=NotificationKind.SUSPENDED,
            title="Your account is suspended",
            body=reason or "A manager suspended your account.",
            url=reverse("workforce:onboarding"),
        )


@transaction.atomic
def journey_transition(
    *,
    profile: AnnotatorProfile,
    to: str,
    actor: User | None,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AnnotatorProfile:
    """Move a person to journey state `to` if the map allows it from where they are; audited,
    recorded as a JourneyEvent and told to them where it matters (activation, suspension).

    Locks the profile. Moving to the state they are in changes nothing. Raises ValidationFailed
    (field `status`) for an unknown state or a move the map does not allow.
    """
    to = str(to)
    if to not in journey_states():
        raise _refuse(f"{to!r} is not a state of the journey ({', '.join(journey_states())}).")
    locked = AnnotatorProfile.objects.select_for_update().get(pk=profile.pk)
    here = locked.status
    if here == to:
        return locked
    allowed = _allowed(locked)
    if to not in allowed:
        raise _refuse(
            f"A person who is {status_label(here).lower()} cannot be moved to "
            f"{status_label(to).lower()}; allowed: {', '.join(allowed) or 'nothing'}."
        )
    step = next((s for s in onboarding_steps() if s.name == to), None)
    if step is not None and here != S.SUSPENDED and not step.done(locked.user):
        # A step's state says the person did it; nobody, a manager included, can say it for them.
        # (Reinstating returns them to where they were, as it was.)
        raise _refuse(f"This person has not done “{step.label}” yet.")
    now = now or timezone.now()
    locked.status_before_suspension = here if to == S.SUSPENDED else ""
    locked.status = to
    locked.status_changed_at = now
    locked.save(
        update_fields=["status", "status_changed_at", "status_before_suspension", "updated_at"]
    )
    after: dict[str, Any] = {"status": to, "reason": reason}
    if evidence:
        after["evidence"] = evidence
    audit_record(
        actor=actor,
        action="annotator.status_changed",
        target=locked,
        before={"status": here},
        after=after,
    )
    JourneyEvent.objects.create(
        user_id=locked.user_id,
        from_status=here,
        to_status=to,
        actor=actor if actor is not None and actor.is_authenticated else None,
        reason=reason[:300],
        evidence=evidence,
        created_at=now,
    )
    _tell(locked.user, here, to, reason)
    return locked


@transaction.atomic
def journey_refresh(*, user: User, actor: User | None = None) -> AnnotatorProfile | None:
    """Walk the person forward through every onboarding step they have completed; at the end,
    to probation, or to the approval queue when QUORUM_ONBOARDING_APPROVAL is on.

    Call it after anything that may complete a step. Does nothing for people past onboarding
    (or suspended, offboarded, waiting for approval); returns None for someone with no profile.
    """
    profile = AnnotatorProfile.objects.select_for_update().filter(user_id=user.pk).first()
    if profile is None:
        return None
    steps = onboarding_steps()
    names = [step.name for step in steps]
    while True:
        if profile.status == S.APPLICANT:
            index = 0
        elif profile.status in names:
            index = names.index(profile.status) + 1
        else:
            return profile
        if index == len(steps):
            end = S.APPROVAL if settings.QUORUM_ONBOARDING_APPROVAL else S.PROBATION
            return journey_transition(
                profile=profile, to=end, actor=actor, reason="Every onboarding step is done."
            )
        step = steps[index]
        if not step.done(user):
            return profile
        profile = journey_transition(
            profile=profile, to=step.name, actor=actor, reason=f"Done: {step.label}."
        )


def _expect(profile: AnnotatorProfile, status: str, doing: str) -> None:
    current = AnnotatorProfile.objects.filter(pk=profile.pk).values_list("status", flat=True).get()
    if current != status:
        raise _refuse(
            f"Only a person who is {status_label(status).lower()} can be {doing}; "
            f"this person is {status_label(current).lower()}."
        )


def _need_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why.", fields={"reason": ["Say why; the person sees it."]})
    return reason


@transaction.atomic
def journey_approve(
    *, profile: AnnotatorProfile, actor: User, reason: str = ""
) -> AnnotatorProfile:
    """Approve a person waiting in the approval queue: they start work on probation."""
    _expect(profile, S.APPROVAL, "approved")
    return journey_transition(
        profile=profile, to=S.PROBATION, actor=actor, reason=reason.strip() or "Approved."
    )


@transaction.atomic
def journey_decline(*, profile: AnnotatorProfile, actor: User, reason: str) -> AnnotatorProfile:
    """Decline a person waiting for approval: they are offboarded (a manager may re-onboard them)."""
    reason = _need_reason(reason)
    _expect(profile, S.APPROVAL, "declined")
    return journey_transition(profile=profile, to=S.OFFBOARDED, actor=actor, reason=reason)


@transaction.atomic
def journey_suspend(
    *,
    profile: AnnotatorProfile,
    actor: User | None,
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> AnnotatorProfile:
    """Suspend a person from wherever they are; reinstating returns them there."""
    return journey_transition(
        profile=profile, to=S.SUSPENDED, actor=actor, reason=_need_reason(reason), evidence=evidence
    )


@transaction.atomic
def journey_reinstate(
    *, profile: AnnotatorProfile, actor: User | None, reason: str = ""
) -> AnnotatorProfile:
    """Lift a suspension: back to the state the person was in when suspended."""
    _expect(profile, S.SUSPENDED, "reinstated")
    locked = AnnotatorProfile.objects.select_for_update().get(pk=profile.pk)
    return journey_transition(
        profile=locked,
        to=_reinstate_to(locked),
        actor=actor,
        reason=reason.strip() or "Reinstated.",
    )


@transaction.atomic
def journey_offboard(
    *, profile: AnnotatorProfile, actor: User | None, reason: str
) -> AnnotatorProfile:
    """Take a person out of the workforce, from wherever they are."""
    return journey_transition(
        profile=profile, to=S.OFFBOARDED, actor=actor, reason=_need_reason(reason)
    )


@transaction.atomic
def journey_reonboard(
    *, profile: AnnotatorProfile, actor: User, reason: str = ""
) -> AnnotatorProfile | None:
    """Start an offboarded person's journey again; the steps they still meet are done at once."""
    _expect(profile, S.OFFBOARDED, "re-onboarded")
    journey_transition(
        profile=profile, to=S.APPLICANT, actor=actor, reason=reason.strip() or "Re-onboarded."
    )
    return journey_refresh(user=profile.user, actor=actor)
