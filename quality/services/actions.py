"""End quality rule actions: expiry, lifting by a manager, and appeals with their decision.

Ending an action gives back what it took (`quality.services.effects`) and records who ended it
and why. A person appeals an action taken on them once, while it is active; a manager upholds the
appeal (the action is reversed) or rejects it with a note (the action stands). Every write
records an audit event in its transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record, snapshot
from core.errors import Conflict, NotFound, ValidationFailed
from labeling.services.standing import worker_states_lock_in
from quality.models import (
    IN_EFFECT_STATES,
    Appeal,
    AppealStatus,
    RuleAction,
    RuleActionState,
)
from quality.selectors import in_quality_scope, require_quality_manager
from quality.services.effects import effects_give_back
from quality.services.rules import MAX_TEXT
from workforce.models import NotificationKind
from workforce.services.notifications import notify

_ACTION_FIELDS = ["state", "expires_at", "ended_at", "ended_by", "end_note"]


def _action_for_update(action_id: int) -> RuleAction:
    action = (
        RuleAction.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(pk=action_id)
        .first()
    )
    if action is None:
        raise NotFound("There is no such rule action.")
    return action


def _states_of_action_locked(action: RuleAction) -> None:
    """Take the person's state locks first (the queue's order) before the action's own lock."""
    projects = {entry.get("project") for entry in action.taken or []} - {None}
    worker_states_lock_in(user_id=action.user_id, project_ids=projects)


def _action_end(
    *, action: RuleAction, state: str, actor: User | None, note: str, now: datetime, audit: str
) -> RuleAction:
    before = snapshot(action, _ACTION_FIELDS)
    restored = effects_give_back(action=action, actor=actor, now=now)
    action.state = state
    action.ended_at = now
    action.ended_by = actor
    action.end_note = note
    action.save(update_fields=["state", "ended_at", "ended_by", "end_note"])
    audit_record(
        actor=actor,
        action=audit,
        target=action,
        before=before,
        after={**snapshot(action, _ACTION_FIELDS), "restored": restored},
    )
    return action


def rule_actions_expire(*, now: datetime | None = None) -> int:
    """End every timed action whose time ran out and restore what it took; return how many."""
    now = now or timezone.now()
    due = list(
        RuleAction.objects.filter(state__in=IN_EFFECT_STATES, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ended = 0
    for action_id in due:
        with transaction.atomic():
            _states_of_action_locked(RuleAction.objects.get(pk=action_id))
            action = _action_for_update(action_id)
            if action.state not in IN_EFFECT_STATES or action.expires_at is None:
                continue
            if action.expires_at > now:
                continue
            _action_end(
                action=action,
                state=RuleActionState.EXPIRED,
                actor=None,
                note="",
                now=now,
                audit="rule_action.expired",
            )
            ended += 1
    return ended


def _require_in_scope(manager: User, *, person_id: int) -> None:
    """A manager acts only on the people of their teams: anyone else's action is "not found"."""
    if not in_quality_scope(manager, person_id=person_id):
        raise NotFound("There is no such action.")


def _clean_text(text: str, name: str, *, required: bool) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationFailed(f"{name}: Required.", fields={name: ["Required."]})
    if len(text) > MAX_TEXT:
        message = f"At most {MAX_TEXT} characters."
        raise ValidationFailed(f"{name}: {message}", fields={name: [message]})
    return text


@transaction.atomic
def rule_action_lift(*, action: RuleAction, manager: User, note: str = "") -> RuleAction:
    """End an action in force now and restore what it took; a pending appeal of it is upheld.

    Raises PermissionDenied (not a manager), NotFound (a person outside the manager's teams) or
    Conflict `action_not_in_effect`.
    """
    require_quality_manager(manager)
    _require_in_scope(manager, person_id=action.user_id)
    note = _clean_text(note, "note", required=False)
    now = timezone.now()
    _states_of_action_locked(action)
    locked = _action_for_update(action.pk)
    if locked.state not in IN_EFFECT_STATES:
        raise Conflict(
            f"This action is already {locked.get_state_display().lower()}.",
            code="action_not_in_effect",
            extra={"state": locked.state},
        )
    _action_end(
        action=locked,
        state=RuleActionState.REVERSED,
        actor=manager,
        note=note,
        now=now,
        audit="rule_action.lifted",
    )
    appeal = Appeal.objects.select_for_update().filter(action=locked).first()
    if appeal is not None and appeal.status == AppealStatus.PENDING:
        _appeal_close(
            appeal=appeal,
            manager=manager,
            status=AppealStatus.UPHELD,
            note=note or "The action was lifted.",
            now=now,
        )
    return locked


@transaction.atomic
def rule_action_appeal(*, action: RuleAction, user: User, reason: str) -> Appeal:
    """File the person's appeal against an action taken on them (once, while it is active).

    Raises NotFound (not their action), ValidationFailed (no reason), Conflict `appeal_exists`
    or `action_not_appealable`.
    """
    if action.user_id != user.pk:
        raise NotFound("There is no such action of yours.")
    reason = _clean_text(reason, "reason", required=True)
    locked = _action_for_update(action.pk)
    if Appeal.objects.filter(action=locked).exists():
        raise Conflict("You have already appealed this action.", code="appeal_exists")
    if locked.state != RuleActionState.ACTIVE:
        raise Conflict(
            f"This action is {locked.get_state_display().lower()}; there is nothing to appeal.",
            code="action_not_appealable",
            extra={"state": locked.state},
        )
    appeal = Appeal.objects.create(action=locked, author=user, reason=reason)
    audit_record(
        actor=user,
        action="appeal.filed",
        target=appeal,
        after={"action": locked.pk, "rule": locked.rule_id, "reason": reason},
    )
    return appeal


def _appeal_close(
    *, appeal: Appeal, manager: User, status: str, note: str, now: datetime
) -> Appeal:
    before = snapshot(appeal, ["status"])
    appeal.status = status
    appeal.decided_by = manager
    appeal.decided_at = now
    appeal.decision_note = note
    appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        actor=manager,
        action="appeal.decided",
        target=appeal,
        before=before,
        after={"status": status, "note": note, "action": appeal.action_id},
    )
    upheld = status == AppealStatus.UPHELD
    notify(
        user=appeal.author,
        kind=NotificationKind.APPEAL_DECIDED,
        title="Your appeal was upheld" if upheld else "Your appeal was not upheld",
        body=(note or "The action was reversed.") if upheld else note,
        url=reverse("quality:my_actions"),
    )
    return appeal


@transaction.atomic
def appeal_decide(*, appeal: Appeal, manager: User, uphold: bool, note: str = "") -> Appeal:
    """Decide an appeal: upholding it reverses the action and restores what it took; rejecting
    it keeps the action in force (a rejection needs a note that tells the person why).

    Raises PermissionDenied (not a manager), NotFound (a person outside the manager's teams),
    ValidationFailed, or Conflict `appeal_decided`.
    """
    require_quality_manager(manager)
    action = RuleAction.objects.get(pk=appeal.action_id)
    _require_in_scope(manager, person_id=action.user_id)
    note = _clean_text(note, "note", required=not uphold)
    now = timezone.now()
    _states_of_action_locked(action)
    action = _action_for_update(action.pk)
    locked = Appeal.objects.select_for_update().get(pk=appeal.pk)
    if locked.status != AppealStatus.PENDING:
        raise Conflict(
            f"This appeal was already decided ({locked.get_status_display().lower()}).",
            code="appeal_decided",
        )
    if uphold:
        if action.state in IN_EFFECT_STATES:
            _action_end(
                action=action,
                state=RuleActionState.REVERSED,
                actor=manager,
                note=note,
                now=now,
                audit="rule_action.reversed",
            )
        return _appeal_close(
            appeal=locked, manager=manager, status=AppealStatus.UPHELD, note=note, now=now
        )
    if action.state == RuleActionState.ACTIVE:
        action.state = RuleActionState.UPHELD
        action.save(update_fields=["state"])
        audit_record(
            actor=manager,
            action="rule_action.upheld",
            target=action,
            before={"state": RuleActionState.ACTIVE},
            after={"state": RuleActionState.UPHELD, "appeal": locked.pk},
        )
    return _appeal_close(
        appeal=locked, manager=manager, status=AppealStatus.REJECTED, note=note, now=now
    )
