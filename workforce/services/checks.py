"""Every write to skill checks (training modules, qualification tests) and people's attempts.

Workforce keeps the rules and the records; labeling draws, serves and scores the items and tells
workforce the outcome through `attempt_start`, `attempt_finish` and `attempt_abandon`.
Lock order: the person's AnnotatorProfile, then the attempt.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.urls import reverse

from accounts.models import User
from accounts.policy import Action, require
from core.audit import audit_record, snapshot
from core.errors import Conflict, PermissionDenied, ValidationFailed
from workforce.models import (
    AnnotatorProfile,
    AttemptState,
    CheckAttempt,
    CheckKind,
    NotificationKind,
    Skill,
    SkillCheck,
    SkillLevel,
)
from workforce.selectors.checks import BARRED_STATUSES, next_attempt_at
from workforce.services.notifications import notify
from workforce.services.onboarding import journey_refresh
from workforce.services.people import skill_level_grant

CHECK_FIELDS = [
    "skill",
    "kind",
    "name",
    "description",
    "pass_mark",
    "items_per_attempt",
    "stratify_by_label",
    "time_limit_seconds",
    "max_attempts",
    "cooldown_seconds",
    "level_map",
    "is_active",
]
MAX_TIME_LIMIT_SECONDS = 24 * 3600
MAX_COOLDOWN_SECONDS = 365 * 24 * 3600


def _whole(value: Any, low: int, high: int | None = None) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int)
        and value >= low
        and (high is None or value <= high)
    )


def _share(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value <= 1


def level_map_clean(raw: Any) -> list[list[float | int]]:
    """Return a score-to-level map as [[threshold, level], ...] or raise ValidationFailed.

    Thresholds are shares (0..1) and levels 1..10, both strictly rising: a higher score never
    grants a lower level."""
    message = None
    pairs: list[list[float | int]] = []
    if not isinstance(raw, list | tuple):
        message = "A list of [min_score, level] pairs, e.g. [[0.8, 1], [0.92, 2]]."
    else:
        for i, pair in enumerate(raw):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                message = f"Entry {i + 1} is not a [min_score, level] pair."
                break
            threshold, level = pair
            if not _share(threshold):
                message = f"Entry {i + 1}: the minimum score is a share from 0 to 1."
                break
            if not _whole(level, 1, 10):
                message = f"Entry {i + 1}: the level is a whole number from 1 to 10."
                break
            if pairs and not (threshold > pairs[-1][0] and level > pairs[-1][1]):
                message = (
                    f"Entry {i + 1}: sort the map by score; each entry needs a higher score "
                    "and a higher level than the one before."
                )
                break
            pairs.append([float(threshold), int(level)])
    if message is not None:
        raise ValidationFailed(f"level_map: {message}", fields={"level_map": [message]})
    return pairs


def level_for_score(level_map: list[list[float | int]], score: float) -> int | None:
    """The level a test score earns: that of the highest threshold reached, or None."""
    earned = None
    for threshold, level in level_map:
        if score >= threshold:
            earned = int(level)
    return earned


def _check_clean(values: dict[str, Any]) -> dict[str, Any]:
    """Check a skill check's settings together; raise ValidationFailed naming every bad field."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not isinstance(values["skill"], Skill):
        bad("skill", "Choose a skill.")
    if values["kind"] not in CheckKind.values:
        bad("kind", f"Use one of: {', '.join(CheckKind.values)}.")
    values["name"] = str(values["name"] or "").strip()
    if not values["name"]:
        bad("name", "A check needs a name.")
    elif len(values["name"]) > 150:
        bad("name", "At most 150 characters.")
    if not _share(values["pass_mark"]):
        bad("pass_mark", "A share from 0 to 1, e.g. 0.8.")
    else:
        values["pass_mark"] = float(values["pass_mark"])
    if values["items_per_attempt"] is not None and not _whole(values["items_per_attempt"], 1, 1000):
        bad("items_per_attempt", "A whole number from 1 to 1000, or empty for every item.")
    if values["time_limit_seconds"] is not None and not _whole(
        values["time_limit_seconds"], 30, MAX_TIME_LIMIT_SECONDS
    ):
        bad("time_limit_seconds", f"From 30 to {MAX_TIME_LIMIT_SECONDS} seconds, or empty.")
    if values["max_attempts"] is not None and not _whole(values["max_attempts"], 1, 100):
        bad("max_attempts", "A whole number from 1 to 100, or empty for no limit.")
    if not _whole(values["cooldown_seconds"], 0, MAX_COOLDOWN_SECONDS):
        bad("cooldown_seconds", f"From 0 to {MAX_COOLDOWN_SECONDS} seconds.")
    for field in ("stratify_by_label", "is_active"):
        if not isinstance(values[field], bool):
            bad(field, "True or false.")
    try:
        values["level_map"] = level_map_clean(values["level_map"])
    except ValidationFailed as exc:
        errors.update(exc.extra["fields"])
    else:
        if values["kind"] == CheckKind.TEST and not values["level_map"]:
            bad("level_map", "A test needs a score-to-level map, e.g. [[0.8, 1], [0.92, 2]].")
        if values["kind"] == CheckKind.TRAINING and values["level_map"]:
            bad("level_map", "A training module grants no level; leave the map empty.")
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)
    return values


def _check_defaults() -> dict[str, Any]:
    return {
        "description": "",
        "pass_mark": 0.8,
        "items_per_attempt": None,
        "stratify_by_label": False,
        "time_limit_seconds": None,
        "max_attempts": None,
        "cooldown_seconds": 0,
        "level_map": [],
        "is_active": True,
    }


def _require_manager(actor: User | None) -> None:
    if actor is not None:  # None: the system (demo data, migrations of data)
        require(actor, Action.PEOPLE_MANAGE)


@transaction.atomic
def skill_check_create(
    *, actor: User | None, skill: Skill, kind: str, name: str, **settings: Any
) -> SkillCheck:
    """Create a training module or a test for `skill` (managers); raise ValidationFailed."""
    _require_manager(actor)
    unknown = set(settings) - set(CHECK_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"Unknown settings: {', '.join(sorted(unknown))}.",
            fields={k: ["Unknown setting."] for k in unknown},
        )
    values = _check_clean(
        {**_check_defaults(), **settings, "skill": skill, "kind": kind, "name": name}
    )
    check = SkillCheck.objects.create(**values)
    audit_record(
        actor=actor, action="check.created", target=check, after=snapshot(check, CHECK_FIELDS)
    )
    return check


@transaction.atomic
def skill_check_update(*, check: SkillCheck, actor: User | None, **changes: Any) -> SkillCheck:
    """Change a check's rules (managers); its kind and skill are fixed once anyone attempted it."""
    _require_manager(actor)
    unknown = set(changes) - set(CHECK_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"Unknown settings: {', '.join(sorted(unknown))}.",
            fields={k: ["Unknown setting."] for k in unknown},
        )
    locked = SkillCheck.objects.select_for_update().select_related("skill").get(pk=check.pk)
    current = {field: getattr(locked, field) for field in CHECK_FIELDS}
    changed = {k: v for k, v in changes.items() if current[k] != v}
    if not changed:
        return locked
    fixed = sorted({"kind", "skill"} & set(changed))
    if fixed and locked.attempts.exists():
        raise ValidationFailed(
            f"{fixed[0]}: cannot change once people have attempted the check.",
            fields={field: ["Cannot change once attempted."] for field in fixed},
        )
    values = _check_clean({**current, **changed})
    before = snapshot(locked, CHECK_FIELDS)
    for field in changed:
        setattr(locked, field, values[field])
    locked.save()
    audit_record(
        actor=actor,
        action="check.updated",
        target=locked,
        before=before,
        after=snapshot(locked, CHECK_FIELDS),
    )
    return locked


def _profile_for_update(user: User) -> AnnotatorProfile:
    """Lock the person's profile (serialises their starts) or refuse people who may not take checks."""
    profile = AnnotatorProfile.objects.select_for_update().filter(user_id=user.pk).first()
    if profile is None:
        raise PermissionDenied("Only annotators (with a profile) take training modules and tests.")
    if profile.status in BARRED_STATUSES:
        raise PermissionDenied(f"Your account is {profile.status}; you cannot take checks now.")
    return profile


@transaction.atomic
def attempt_start(
    *, user: User, check: SkillCheck, drawn_item_ids: list[int], now: datetime
) -> CheckAttempt:
    """Open the person's next attempt at `check` with the items labeling drew for it.

    Holds the person's profile lock, so two starts at once (two tabs) are decided one after the
    other. When the person already has an open attempt at this check, return it unchanged (the
    second tab continues the first); raise Conflict when one is open at another check, when
    every attempt is used, or during the cooldown (with when the next attempt is allowed);
    PermissionDenied for people who may not take checks.
    """
    _profile_for_update(user)
    if not check.is_active:
        raise Conflict("This check is closed; it takes no new attempts.", code="check_closed")
    attempts = CheckAttempt.objects.filter(user_id=user.pk)
    open_attempt = attempts.filter(state=AttemptState.OPEN).select_related("check_ref").first()
    if open_attempt is not None:
        if open_attempt.check_ref_id == check.pk:
            return open_attempt
        raise Conflict(
            f"Finish or abandon your attempt at {open_attempt.check_ref.name!r} first.",
            code="check_attempt_open",
            extra={"attempt_id": open_attempt.pk},
        )
    mine = attempts.filter(check_ref_id=check.pk)
    used = mine.count()
    if check.max_attempts is not None and used >= check.max_attempts:
        raise Conflict(
            f"You have used all {check.max_attempts} attempts at this check.",
            code="check_attempts_used",
            extra={"attempts_used": used, "max_attempts": check.max_attempts},
        )
    last = mine.exclude(finished_at=None).order_by("-finished_at").first()
    allowed_at = next_attempt_at(check=check, last_finished_at=last.finished_at if last else None)
    if allowed_at is not None and allowed_at > now:
        raise Conflict(
            f"You can try again from {allowed_at:%Y-%m-%d %H:%M} UTC.",
            code="check_cooldown",
            extra={"next_attempt_at": allowed_at.isoformat()},
        )
    if not drawn_item_ids:
        raise ValidationFailed(
            "This check has no items yet.", fields={"item_ids": ["No items were drawn."]}
        )
    attempt = CheckAttempt.objects.create(
        check_ref=check,
        user=user,
        number=used + 1,
        item_ids=list(drawn_item_ids),
        started_at=now,
        deadline=now + timedelta(seconds=check.time_limit_seconds)
        if check.time_limit_seconds
        else None,
    )
    audit_record(
        actor=user,
        action="check.attempt_started",
        target=attempt,
        after={"check": check.pk, "number": attempt.number, "items": len(drawn_item_ids)},
    )
    return attempt


def _score_clean(score: float) -> float:
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        raise ValidationFailed("score: a share from 0 to 1.", fields={"score": ["From 0 to 1."]})
    return float(score)


def _locked_open(attempt: CheckAttempt) -> CheckAttempt | None:
    """The attempt locked, with its check; None when it is no longer open (a repeat is a no-op)."""
    locked = CheckAttempt.objects.select_for_update().get(pk=attempt.pk)
    if locked.state != AttemptState.OPEN:
        return None
    return CheckAttempt.objects.select_related("check_ref__skill", "user").get(pk=locked.pk)


@transaction.atomic
def attempt_finish(
    *, attempt: CheckAttempt, score: float, now: datetime, timed_out: bool = False
) -> CheckAttempt:
    """Close an open attempt with its score (0..1 over the drawn items) and apply the outcome.

    Training: passed when the score reaches the pass mark. Test: the level of the highest
    threshold of the level map reached, granted through `skill_level_grant` unless the person
    already holds the skill at that level or higher (a test never lowers a level); no threshold
    reached: failed. An attempt that ran out of time (`timed_out`) is recorded as timed out, with
    its score, and neither passes nor grants a level. Closing a closed attempt changes nothing.
    """
    score = _score_clean(score)
    locked = _locked_open(attempt)
    if locked is None:
        return CheckAttempt.objects.get(pk=attempt.pk)
    check = locked.check_ref
    level: int | None = None
    if timed_out:
        state = AttemptState.TIMED_OUT
    elif check.kind == CheckKind.TRAINING:
        state = AttemptState.PASSED if score >= check.pass_mark else AttemptState.FAILED
    else:
        level = level_for_score(check.level_map, score)
        state = AttemptState.PASSED if level is not None else AttemptState.FAILED
    if level is not None:
        held = (
            SkillLevel.objects.filter(user_id=locked.user_id, skill_id=check.skill_id)
            .values_list("level", flat=True)
            .first()
        )
        if held is None or held < level:
            skill_level_grant(user=locked.user, skill=check.skill, level=level, actor=None)
    return _close(locked, state=state, score=score, now=now, level=level)


@transaction.atomic
def attempt_abandon(*, attempt: CheckAttempt, score: float, now: datetime) -> CheckAttempt:
    """Give up an open attempt: it counts as an attempt, with `score` (unanswered items 0)."""
    score = _score_clean(score)
    locked = _locked_open(attempt)
    if locked is None:
        raise Conflict("This attempt is already over.", code="attempt_not_open")
    return _close(locked, state=AttemptState.ABANDONED, score=score, now=now, level=None)


def _close(
    attempt: CheckAttempt, *, state: AttemptState, score: float, now: datetime, level: int | None
) -> CheckAttempt:
    attempt.state, attempt.score, attempt.finished_at = state, score, now
    attempt.level_granted = level
    attempt.save(update_fields=["state", "score", "finished_at", "level_granted"])
    audit_record(
        actor=None if state == AttemptState.TIMED_OUT else attempt.user,
        action="check.attempt_finished",
        target=attempt,
        before={"state": AttemptState.OPEN.value},
        after={"state": state.value, "score": round(score, 4), "level_granted": level},
    )
    _after_attempt(attempt)
    return attempt


def _after_attempt(attempt: CheckAttempt) -> None:
    """What follows a finished attempt elsewhere in workforce, inside the transaction that closed
    it: the onboarding journey moves on if the attempt completed a step (trained, qualified), and
    a test's taker is told the outcome, with when they may try again after a failure."""
    journey_refresh(user=attempt.user, actor=None)
    check = attempt.check_ref
    if check.kind != CheckKind.TEST or attempt.state == AttemptState.ABANDONED:
        return
    score = f"{(attempt.score or 0) * 100:.0f}%"
    if attempt.state == AttemptState.PASSED:
        notify(
            user=attempt.user,
            kind=NotificationKind.TEST_PASSED,
            title=f"You passed {check.name}: {check.skill.name} level {attempt.level_granted}",
            body=f"Your score: {score}. Projects that ask for this level are open to you now.",
            url=reverse("home"),
        )
        return
    retry = next_attempt_at(check=check, last_finished_at=attempt.finished_at)
    used = CheckAttempt.objects.filter(check_ref=check, user_id=attempt.user_id).count()
    if check.max_attempts is not None and used >= check.max_attempts:
        again = "You have used all your attempts at this test."
    elif retry is not None:
        again = f"You may try again from {retry:%Y-%m-%d %H:%M} UTC."
    else:
        again = "You may try again now."
    outcome = "ran out of time" if attempt.state == AttemptState.TIMED_OUT else "did not pass"
    notify(
        user=attempt.user,
        kind=NotificationKind.TEST_FAILED,
        title=f"You {outcome} {check.name}",
        body=f"Your score: {score}. {again}",
        url=reverse("workforce:checks"),
    )
