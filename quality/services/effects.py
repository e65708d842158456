"""The effects of quality rule actions on a person: take them, and give them back.

An action records each effect it had as {"effect", "project", "skill", "before", "set"}. While
several actions hold the same effect (say two rules raised the same gold rate), the value in force
is what they set together, and "before" is the value from before any of them; when the last one
ends, "before" comes back. A value a person changed by hand in the meantime is left alone.

Standing on a project changes through labeling's standing service, account status and skill
levels through workforce's services. The caller holds the person's WorkerProjectState locks
(see `quality.services`) and the action's row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.urls import reverse

from accounts.models import User
from labeling.models import WorkerProjectState
from labeling.services.standing import worker_state_lock_existing, worker_state_standing_set
from quality.models import IN_EFFECT_STATES, QualityRule, RuleAction, RuleActionKind
from workforce.models import (
    AnnotatorProfile,
    AnnotatorStatus,
    NotificationKind,
    Skill,
    SkillLevel,
)
from workforce.services import annotator_status_set, skill_level_grant, skill_level_revoke
from workforce.services.notifications import notify

# Effects an action can hold, and how the values set by several actions holding one combine.
EFFECT_GOLD_RATE = "gold_rate_override"
EFFECT_RETRAINING = "needs_retraining"
EFFECT_SUSPENSION = "suspension"
EFFECT_STATUS = "status"
EFFECT_SKILL = "skill"
# The actions whose effect is on the person's standing in a project, and that effect.
STATE_EFFECTS = {
    RuleActionKind.RAISE_GOLD_RATE: EFFECT_GOLD_RATE,
    RuleActionKind.REQUIRE_RETRAINING: EFFECT_RETRAINING,
    RuleActionKind.SUSPEND_PROJECT: EFFECT_SUSPENSION,
}

EffectKey = tuple[str, int | None, int | None]  # (effect, project id, skill id)


def _key(entry: dict[str, Any]) -> EffectKey:
    return (entry["effect"], entry.get("project"), entry.get("skill"))


def _combined(effect: str, values: list[Any]) -> Any:
    """The value in force while actions that set `values` all hold `effect`."""
    if effect == EFFECT_GOLD_RATE:
        return max(values)
    if effect == EFFECT_SUSPENSION:
        untils = [value["suspended_until"] for value in values]
        return {
            "is_suspended": True,
            "suspended_until": None if None in untils else max(untils),
        }
    return values[0]  # retraining: True; status: suspended; skill: no level


def _holders(user_id: int, *, exclude: int | None) -> dict[EffectKey, list[dict[str, Any]]]:
    """The effects the person's other actions in force hold, oldest action first."""
    held: dict[EffectKey, list[dict[str, Any]]] = defaultdict(list)
    actions = RuleAction.objects.filter(user_id=user_id, state__in=IN_EFFECT_STATES)
    if exclude is not None:
        actions = actions.exclude(pk=exclude)
    for taken in actions.order_by("taken_at", "pk").values_list("taken", flat=True):
        for entry in taken or []:
            held[_key(entry)].append(entry)
    return held


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _state_value(state: WorkerProjectState, effect: str) -> Any:
    if effect == EFFECT_SUSPENSION:
        return {
            "is_suspended": state.is_suspended,
            "suspended_until": _iso(state.suspended_until),
        }
    return getattr(state, effect)


def _state_write(state: WorkerProjectState, effect: str, value: Any, now: datetime) -> None:
    if effect == EFFECT_SUSPENSION:
        until = value["suspended_until"]
        changes = {
            "is_suspended": value["is_suspended"],
            "suspended_until": datetime.fromisoformat(until) if until else None,
        }
    else:
        changes = {effect: value}
    worker_state_standing_set(state_id=state.pk, now=now, **changes)


def _same(effect: str, current: Any, expected: Any) -> bool:
    if effect == EFFECT_SUSPENSION:
        return bool(current["is_suspended"]) == bool(expected["is_suspended"]) and _instant(
            current["suspended_until"]
        ) == _instant(expected["suspended_until"])
    return bool(current == expected)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def effects_take(
    *,
    action: RuleAction,
    rule: QualityRule,
    user: User,
    states: list[WorkerProjectState],
    now: datetime,
    note: str = "",
) -> list[dict[str, Any]]:
    """Apply the action's effects to the person and return what was taken (`note`: a word to
    the person in the notification of retraining, e.g. a manager's reason)."""
    holders = _holders(user.pk, exclude=action.pk)
    taken: list[dict[str, Any]] = []

    def hold(key: EffectKey, current: Any, value: Any) -> Any:
        others = holders.get(key, [])
        before = others[0]["before"] if others else current
        taken.append(
            {"effect": key[0], "project": key[1], "skill": key[2], "before": before, "set": value}
        )
        return _combined(key[0], [entry["set"] for entry in others] + [value])

    effect = STATE_EFFECTS.get(RuleActionKind(action.kind))
    if effect is not None:
        value: Any = {
            EFFECT_GOLD_RATE: rule.gold_rate,
            EFFECT_RETRAINING: True,
            EFFECT_SUSPENSION: {"is_suspended": True, "suspended_until": _iso(action.expires_at)},
        }[effect]
        for state in states:
            key = (effect, state.project_id, None)
            combined = hold(key, _state_value(state, effect), value)
            _state_write(state, effect, combined, now)
        if effect == EFFECT_RETRAINING and states:
            notify(
                user=user,
                kind=NotificationKind.TRAINING_REQUIRED,
                title="Training required",
                body=f"Quality rule “{rule.name}”: redo the training before more work here."
                + (f" {note}" if note else ""),
                url=reverse("quality:my_actions"),
            )
    elif action.kind == RuleActionKind.SUSPEND_EVERYWHERE:
        profile = AnnotatorProfile.objects.filter(user_id=user.pk).first()
        # An offboarded person has nothing left to suspend (and the journey has no such move).
        if profile is not None and profile.status != AnnotatorStatus.OFFBOARDED:
            hold((EFFECT_STATUS, None, None), profile.status, AnnotatorStatus.SUSPENDED.value)
            annotator_status_set(
                profile=profile,
                status=AnnotatorStatus.SUSPENDED,
                actor=None,
                reason=f"Quality rule “{rule.name}” (action {action.pk}).",
            )
    elif action.kind == RuleActionKind.REMOVE_SKILL_LEVEL and rule.project is not None:
        skill_id = rule.project.required_skill_id
        if skill_id is not None:
            level = (
                SkillLevel.objects.filter(user_id=user.pk, skill_id=skill_id)
                .values_list("level", flat=True)
                .first()
            )
            hold((EFFECT_SKILL, None, skill_id), level, None)
            if level is not None:
                skill_level_revoke(user=user, skill=Skill.objects.get(pk=skill_id), actor=None)
    return taken


def effects_give_back(
    *, action: RuleAction, actor: User | None, now: datetime
) -> list[dict[str, Any]]:
    """Undo the action's effects where nobody changed them since; return what was restored."""
    holders = _holders(action.user_id, exclude=action.pk)
    restored: list[dict[str, Any]] = []
    user = User.objects.get(pk=action.user_id)
    for entry in action.taken or []:
        key = _key(entry)
        effect, project_id, skill_id = key
        others = holders.get(key, [])
        expected = _combined(effect, [other["set"] for other in others] + [entry["set"]])
        value = _combined(effect, [other["set"] for other in others]) if others else entry["before"]
        if effect in (EFFECT_GOLD_RATE, EFFECT_RETRAINING, EFFECT_SUSPENSION):
            if project_id is None:
                continue
            state = worker_state_lock_existing(user_id=action.user_id, project_id=project_id)
            if state is None or not _same(effect, _state_value(state, effect), expected):
                continue
            _state_write(state, effect, value, now)
        elif effect == EFFECT_STATUS:
            profile = AnnotatorProfile.objects.filter(user_id=action.user_id).first()
            if profile is None or profile.status != expected:
                continue
            annotator_status_set(
                profile=profile,
                status=value,
                actor=actor,
                reason=f"Quality rule action {action.pk} ended.",
            )
        elif effect == EFFECT_SKILL and skill_id is not None:
            held = SkillLevel.objects.filter(user_id=action.user_id, skill_id=skill_id).exists()
            if held or value is None:
                continue
            skill_level_grant(
                user=user, skill=Skill.objects.get(pk=skill_id), level=value, actor=actor
            )
        restored.append({**entry, "restored_to": value})
    return restored
