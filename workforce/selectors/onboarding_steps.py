"""The onboarding journey as data: its ordered steps and its one transition map.

A person's status is the name of the last step they completed (or applicant, approval, probation,
active, suspended, offboarded). Each step says when it is done, where the person does it and, if
it can be, why they cannot do it yet. Another app adds a step before probation with
`onboarding_step_register` (payments: "payout account ready"); the map follows the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max

from workforce.models import (
    AnnotatorProfile,
    AnnotatorStatus,
    AttemptState,
    CheckAttempt,
    CheckKind,
    SkillCheck,
    SkillLevel,
    TermsAcceptance,
)
from workforce.selectors.people import terms_current

S = AnnotatorStatus


@dataclass(frozen=True)
class OnboardingStep:
    """One step between applicant and probation.

    `done(user)` says whether the person completed it; `url_name` is the page where they do it
    (reversed lazily: a missing URL shows no button); `blocked_reason(user, now)` says why they
    cannot do it right now (a cooldown, attempts used up), or None. `label` is the step as a thing
    to do ("Accept the terms of work"); `state_label` names the state a person is in once it is
    done ("Terms accepted"; empty: the label), as `status_label` shows it.
    """

    name: str
    label: str
    done: Callable[[Any], bool]
    url_name: str = ""
    blocked_reason: Callable[[Any, datetime], str | None] | None = None
    help_text: str = ""
    state_label: str = ""


# --- The built-in steps' rules --------------------------------------------------------------


def profile_is_complete(user: Any) -> bool:
    """The person told us their country, time zone and at least one language."""
    profile = AnnotatorProfile.objects.filter(user_id=user.pk).first()
    return bool(profile and profile.country and profile.time_zone and profile.languages)


def terms_are_accepted(user: Any) -> bool:
    """The person accepted the terms in force now."""
    current = terms_current()
    return (
        current is not None
        and TermsAcceptance.objects.filter(user_id=user.pk, terms=current).exists()
    )


def training_is_passed(user: Any) -> bool:
    """The person passed at least one training module."""
    return CheckAttempt.objects.filter(
        user_id=user.pk, check_ref__kind=CheckKind.TRAINING, state=AttemptState.PASSED
    ).exists()


def skill_is_held(user: Any) -> bool:
    """The person holds at least one skill level (granted by a test or a manager)."""
    return SkillLevel.objects.filter(user_id=user.pk).exists()


def check_wait(user: Any, kind: str, now: datetime) -> str | None:
    """Why the person can start no check of `kind` now, or None if one is open to them.

    A check is closed to them while its cooldown since their last finished attempt runs, or for
    good once they used its maximum number of attempts (abandoned and timed-out ones count).
    With several checks, the earliest that opens is named.
    """
    checks = list(SkillCheck.objects.filter(kind=kind, is_active=True))
    if not checks:
        return None
    stats = {
        row["check_ref_id"]: row
        for row in CheckAttempt.objects.filter(user_id=user.pk, check_ref__in=checks)
        .values("check_ref_id")
        .annotate(last=Max("finished_at"), used=Max("number"))
    }
    opens: list[datetime] = []
    for check in checks:
        row = stats.get(check.pk)
        if row is None:
            return None
        if check.max_attempts is not None and row["used"] >= check.max_attempts:
            continue
        last = row["last"]
        ready = last + timedelta(seconds=check.cooldown_seconds) if last else now
        if ready <= now:
            return None
        opens.append(ready)
    if not opens:
        return "You have used every attempt; ask a manager for another chance."
    return f"Next attempt from {min(opens):%Y-%m-%d %H:%M} UTC."


def _training_wait(user: Any, now: datetime) -> str | None:
    return check_wait(user, CheckKind.TRAINING, now)


def _test_wait(user: Any, now: datetime) -> str | None:
    return check_wait(user, CheckKind.TEST, now)


_BUILT_IN = [
    OnboardingStep(
        name=S.PROFILE_COMPLETE,
        state_label="Profile complete",
        label="Complete your profile",
        done=profile_is_complete,
        url_name="workforce:profile",
        help_text="Your country, time zone and the languages you label in.",
    ),
    OnboardingStep(
        name=S.TERMS_ACCEPTED,
        state_label="Terms accepted",
        label="Accept the terms of work",
        done=terms_are_accepted,
        url_name="workforce:profile",
    ),
    OnboardingStep(
        name=S.TRAINED,
        state_label="Trained",
        label="Pass a training module",
        done=training_is_passed,
        url_name="workforce:checks",
        blocked_reason=_training_wait,
        help_text="Practice items that show the right answer and why.",
    ),
    OnboardingStep(
        name=S.QUALIFIED,
        state_label="Qualified",
        label="Pass a qualification test",
        done=skill_is_held,
        url_name="workforce:checks",
        blocked_reason=_test_wait,
        help_text="A timed test that grants you a skill level.",
    ),
]

_steps: list[OnboardingStep] = list(_BUILT_IN)


def onboarding_steps() -> tuple[OnboardingStep, ...]:
    """The steps between applicant and probation, in order."""
    return tuple(_steps)


def onboarding_step_register(step: OnboardingStep, *, after: str | None = None) -> None:
    """Add a step before probation (at the end, or right after the step named `after`).

    Call it from an app's `ready()`. Registering a name again replaces that step in place.
    """
    reserved = {S.APPLICANT, S.APPROVAL, S.PROBATION, S.ACTIVE, S.SUSPENDED, S.OFFBOARDED}
    if step.name in reserved:
        raise ValueError(f"{step.name!r} is a journey state, not a step.")
    names = [s.name for s in _steps]
    if step.name in names:
        _steps[names.index(step.name)] = step
        return
    if after is None:
        _steps.append(step)
    else:
        _steps.insert(names.index(after) + 1, step)


def onboarding_step_unregister(name: str) -> None:
    """Remove a registered step (tests, or an app switched off)."""
    _steps[:] = [s for s in _steps if s.name != name]


# --- The transition map ---------------------------------------------------------------------

# A suspended person is reinstated to the state recorded when they were suspended.
PREVIOUS = "(before suspension)"


def journey_states() -> list[str]:
    """Every state a profile may hold, in journey order, then suspended and offboarded."""
    return [
        S.APPLICANT,
        *(s.name for s in _steps),
        S.APPROVAL,
        S.PROBATION,
        S.ACTIVE,
        S.SUSPENDED,
        S.OFFBOARDED,
    ]


def journey_transitions() -> dict[str, frozenset[str]]:
    """The one map of allowed moves: {from state: the states one may move to}.

    - forward one step at a time; from the last step to approval (when the operator wants
      approval) or straight to probation;
    - a manager may activate by hand from any onboarding state (to probation or active);
    - approval -> probation (approved) or offboarded (declined);
    - probation <-> active (decided from evidence in quality);
    - suspended from anywhere but offboarded; back only to the state before (PREVIOUS);
    - offboarded from anywhere; back only to applicant (re-onboarding, by a manager).
    `journey_transition` also refuses a move into a step's state the person has not done.
    """
    onboarding = [S.APPLICANT, *(s.name for s in _steps)]
    by_hand = {S.PROBATION.value, S.ACTIVE.value}
    leave = {S.SUSPENDED.value, S.OFFBOARDED.value}
    moves: dict[str, set[str]] = {}
    for here, there in zip(onboarding, [*onboarding[1:], S.APPROVAL], strict=True):
        moves[here] = {there, *by_hand, *leave}
    moves[onboarding[-1]].add(S.PROBATION)
    moves[S.APPROVAL] = {*by_hand, *leave}
    moves[S.PROBATION] = {S.ACTIVE, *leave}
    moves[S.ACTIVE] = {S.PROBATION, *leave}
    moves[S.SUSPENDED] = {PREVIOUS, S.OFFBOARDED}
    moves[S.OFFBOARDED] = {S.APPLICANT}
    return {here: frozenset(there) for here, there in moves.items()}


# The names of the states that are not steps, as people read them.
FIXED_STATE_LABELS: dict[str, str] = {
    S.APPLICANT: "Applicant",
    S.APPROVAL: "Waiting for approval",
    S.PROBATION: "Active (probation)",
    S.ACTIVE: "Active",
    S.SUSPENDED: "Suspended",
    S.OFFBOARDED: "Offboarded",
    PREVIOUS: "Where they were before suspension",
}


def status_label(status: str) -> str:
    """A journey state's name for people: the one place every page and API field takes it from
    (a step's `state_label`, else its label; the fixed states' from `FIXED_STATE_LABELS`)."""
    if status in FIXED_STATE_LABELS:
        return FIXED_STATE_LABELS[status]
    for step in _steps:
        if step.name == status:
            return step.state_label or step.label
    if status in AnnotatorStatus.values:  # a built-in step that was unregistered
        return str(AnnotatorStatus(status).label)
    return status.replace("_", " ").capitalize()


def journey_state_choices() -> list[tuple[str, str]]:
    """(state, label) of every state a profile may hold, in journey order (filters, forms)."""
    return [(state, status_label(state)) for state in journey_states()]
