"""Reads of skill checks and attempts: what a person can take, and the history of attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from accounts.policy import Action, can
from workforce.models import (
    AnnotatorProfile,
    AnnotatorStatus,
    AttemptState,
    CheckAttempt,
    SkillCheck,
)

# People who may not take a check (everyone else with a profile may, applicants included:
# they train and qualify before they work).
BARRED_STATUSES = (AnnotatorStatus.SUSPENDED, AnnotatorStatus.OFFBOARDED)


def next_attempt_at(*, check: SkillCheck, last_finished_at: datetime | None) -> datetime | None:
    """When the cooldown after the last finished attempt ends (None: no cooldown pending)."""
    if last_finished_at is None or not check.cooldown_seconds:
        return None
    return last_finished_at + timedelta(seconds=check.cooldown_seconds)


@dataclass(frozen=True)
class CheckForPerson:
    """A check as one person sees it: how many attempts they used and what they may do next."""

    check: SkillCheck
    attempts_used: int
    attempts_left: int | None
    next_attempt_at: datetime | None
    best_score: float | None
    is_passed: bool
    best_level: int | None
    open_attempt_id: int | None
    refusal: str

    @property
    def may_start(self) -> bool:
        return not self.refusal


def skill_checks_list(*, include_inactive: bool = False) -> QuerySet[SkillCheck]:
    checks = SkillCheck.objects.select_related("skill").order_by("skill__name", "kind", "name")
    return checks if include_inactive else checks.filter(is_active=True)


def skill_check_get(*, check_id: int) -> SkillCheck | None:
    return SkillCheck.objects.select_related("skill").filter(pk=check_id).first()


def attempts_of(*, user: Any, check: SkillCheck | None = None) -> QuerySet[CheckAttempt]:
    """The person's attempts, newest first (at one check if given)."""
    attempts = CheckAttempt.objects.filter(user_id=user.pk).select_related("check_ref__skill")
    return attempts.filter(check_ref_id=check.pk) if check is not None else attempts


def attempts_visible_to(*, viewer: Any, check: SkillCheck) -> QuerySet[CheckAttempt]:
    """Attempts at `check` that `viewer` may see: their own; managers and administrators all."""
    attempts = CheckAttempt.objects.filter(check_ref_id=check.pk).select_related(
        "check_ref__skill", "user"
    )
    if can(viewer, Action.PEOPLE_VIEW):
        return attempts
    return attempts.filter(user_id=viewer.pk)


def attempt_of(*, user: Any, attempt_id: int) -> CheckAttempt | None:
    """The person's own attempt with this id (None for anyone else's: it is not theirs to see)."""
    return (
        CheckAttempt.objects.select_related("check_ref__skill")
        .filter(pk=attempt_id, user_id=user.pk)
        .first()
    )


def checks_for_person(*, user: Any, now: datetime) -> list[CheckForPerson]:
    """Every active check with the person's attempts at it (two queries, whatever the count)."""
    checks = list(skill_checks_list())
    by_check: dict[int, list[CheckAttempt]] = {}
    for attempt in CheckAttempt.objects.filter(user_id=user.pk).order_by("number"):
        by_check.setdefault(attempt.check_ref_id, []).append(attempt)
    status = (
        AnnotatorProfile.objects.filter(user_id=user.pk).values_list("status", flat=True).first()
    )
    open_elsewhere = {
        a.check_ref_id for rows in by_check.values() for a in rows if a.state == AttemptState.OPEN
    }
    rows = []
    for check in checks:
        mine = by_check.get(check.pk, [])
        used = len(mine)
        scores = [a.score for a in mine if a.score is not None]
        levels = [a.level_granted for a in mine if a.level_granted is not None]
        open_attempt = next((a for a in mine if a.state == AttemptState.OPEN), None)
        finished = [a.finished_at for a in mine if a.finished_at is not None]
        allowed_at = next_attempt_at(check=check, last_finished_at=max(finished, default=None))
        left = None if check.max_attempts is None else max(0, check.max_attempts - used)
        refusal = ""
        if open_attempt is not None:
            refusal = ""
        elif status is None:
            refusal = "Only annotators take checks."
        elif status in BARRED_STATUSES:
            refusal = f"Your account is {status}."
        elif open_elsewhere - {check.pk}:
            refusal = "Finish your open attempt first."
        elif left == 0:
            refusal = "No attempts left."
        elif allowed_at is not None and allowed_at > now:
            refusal = f"Next attempt from {allowed_at:%Y-%m-%d %H:%M} UTC."
        rows.append(
            CheckForPerson(
                check=check,
                attempts_used=used,
                attempts_left=left,
                next_attempt_at=allowed_at if allowed_at and allowed_at > now else None,
                best_score=max(scores, default=None),
                is_passed=any(a.state == AttemptState.PASSED for a in mine),
                best_level=max(levels, default=None),
                open_attempt_id=open_attempt.pk if open_attempt else None,
                refusal=refusal,
            )
        )
    return rows
