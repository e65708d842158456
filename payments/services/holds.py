"""Holds: finance releases a held earning (it becomes payable) or forfeits it (it is reversed),
each with a reason, audited; and opens or closes disputes of tasks, which hold the task's
earnings when they would become payable. Finance only, with MFA, as every finance write.

Work a quality rule discarded (labeling's `work_reversed`, reason "discounted") is held here too,
at once, pending or payable, with the rule action as its evidence (`earnings_hold_discounted`),
until finance forfeits it (reversed) or releases it (payable).

Lock order: open holds (ascending pk), then earnings (ascending pk), then the ledger's; the same
as resolving one hold (the hold, its earning, the person's accounts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.policy import Action, can, roles_require_mfa
from accounts.selectors import user_has_mfa
from core.audit import audit_record
from core.errors import Conflict, PermissionDenied, ValidationFailed
from labeling.models import Project, Task
from payments.models import Earning, EarningStatus, Hold, HoldCause, HoldResolution, TaskDispute
from payments.selectors.holds import hold_get_for_update, rule_action_evidence
from payments.services.earnings import (
    earning_release,
    earning_release_hold,
    earning_reverse,
    earning_withhold,
)
from quality.models import RuleAction

REASON_MAX = 500


def _require_finance(actor: User | None) -> None:
    if actor is None:
        return  # the system itself (a management command, the demo)
    if not can(actor, Action.HOLDS_MANAGE):
        raise PermissionDenied("Only finance releases or forfeits held earnings.")
    if roles_require_mfa(actor) and not user_has_mfa(actor):
        raise PermissionDenied(
            "Set up your second factor before resolving holds.", code="mfa_required"
        )


def _clean_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Give a reason.", fields={"reason": ["This field is required."]})
    if len(reason) > REASON_MAX:
        message = f"At most {REASON_MAX} characters."
        raise ValidationFailed(message, fields={"reason": [message]})
    return reason


def _resolve(
    *, hold: Hold, actor: User | None, reason: str, resolution: HoldResolution, at: datetime
) -> Hold:
    locked = hold_get_for_update(pk=hold.pk)
    if not locked.is_open:
        raise Conflict(f"This hold was already {locked.get_resolution_display().lower()}.")
    if resolution == HoldResolution.RELEASED and locked.cause == HoldCause.DISCOUNTED:
        # Its earning may have been payable before (earning_withhold): the move under its own
        # key is then posted, so this one has the hold's key.
        earning = earning_release_hold(earning=locked.earning, hold_id=locked.pk, at=at)
    elif resolution == HoldResolution.RELEASED:
        earning = earning_release(earning=locked.earning, at=at)
    else:
        earning = earning_reverse(
            earning=locked.earning, reason=f"Forfeited: {reason}", actor=actor, at=at
        )
    Hold.objects.filter(pk=locked.pk).update(
        resolution=resolution, resolved_at=at, resolved_by=actor, resolution_reason=reason
    )
    locked.refresh_from_db()
    audit_record(
        actor=actor,
        action=f"earnings.hold_{resolution.value}",
        target=locked,
        before={"earning": earning.pk, "cause": locked.cause, "status": "held"},
        after={
            "status": earning.status,
            "reason": reason,
            "amount_micros": earning.amount_micros,
            "currency": earning.currency,
        },
    )
    return locked


@transaction.atomic
def hold_release(
    *, hold: Hold, actor: User | None, reason: str, at: datetime | None = None
) -> Hold:
    """Release a hold: its earning becomes payable. Finance only, with MFA (PermissionDenied);
    ValidationFailed (field "reason") without a reason; Conflict when already resolved. Locks the
    hold, then the earning, then the person's accounts."""
    _require_finance(actor)
    reason = _clean_reason(reason)
    return _resolve(
        hold=hold,
        actor=actor,
        reason=reason,
        resolution=HoldResolution.RELEASED,
        at=at or timezone.now(),
    )


@transaction.atomic
def hold_forfeit(
    *, hold: Hold, actor: User | None, reason: str, at: datetime | None = None
) -> Hold:
    """Forfeit a hold: its earning is reversed with the reason. Errors and locks as
    `hold_release`."""
    _require_finance(actor)
    reason = _clean_reason(reason)
    return _resolve(
        hold=hold,
        actor=actor,
        reason=reason,
        resolution=HoldResolution.FORFEITED,
        at=at or timezone.now(),
    )


@transaction.atomic
def task_dispute_open(
    *, project: Project, task_id: int, reason: str, actor: User | None, at: datetime | None = None
) -> TaskDispute:
    """Put a task of `project` under dispute: its earnings are held when they would become
    payable, until the dispute is closed. Finance only, with MFA. ValidationFailed names the
    field ("task_id", "reason"); Conflict when the task already has an open dispute."""
    _require_finance(actor)
    reason = _clean_reason(reason)
    # A foreign key to the task is avoided (payments keeps labeling's ids as numbers); the task
    # must exist in that project all the same.
    if not Task.objects.filter(pk=task_id, project_id=project.pk).exists():
        message = f"Project {project.name} has no task {task_id}."
        raise ValidationFailed(message, fields={"task_id": [message]})
    try:
        with transaction.atomic():
            dispute = TaskDispute.objects.create(
                project=project,
                task_id=task_id,
                reason=reason,
                opened_at=at or timezone.now(),
                opened_by=actor,
            )
    except IntegrityError:
        raise Conflict(f"Task {task_id} is already under dispute.") from None
    audit_record(
        actor=actor,
        action="earnings.dispute_open",
        target=dispute,
        after={"project": project.pk, "task": task_id, "reason": reason},
    )
    return dispute


@transaction.atomic
def task_dispute_close(
    *, dispute: TaskDispute, actor: User | None, at: datetime | None = None
) -> TaskDispute:
    """Close a dispute (its held earnings stay held until finance releases or forfeits them).
    Finance only, with MFA; Conflict when already closed."""
    _require_finance(actor)
    locked = TaskDispute.objects.select_for_update().get(pk=dispute.pk)
    if locked.closed_at is not None:
        raise Conflict("This dispute is already closed.")
    locked.closed_at, locked.closed_by = at or timezone.now(), actor
    locked.save(update_fields=["closed_at", "closed_by"])
    audit_record(
        actor=actor,
        action="earnings.dispute_close",
        target=locked,
        after={"task": locked.task_id, "closed_at": locked.closed_at},
    )
    return locked


# --- Discounted work --------------------------------------------------------------------------


def discount_detail(*, action: RuleAction | None, reason: str) -> str:
    """What a discounted hold says, to finance and to the person: the rule, its condition and what
    it measured, or only the reason when no rule action is known."""
    if action is None:
        return f"Work {reason}: it stopped counting before its task was final."[:REASON_MAX]
    evidence = rule_action_evidence(action)
    text = (
        f"Work {reason} by the quality rule “{evidence.rule_name}” (action {action.pk}): "
        f"{evidence.condition}; measured {evidence.metric_value:g} over {evidence.sample_size}."
    )
    return text[:REASON_MAX]


def _hold_audit(hold: Hold, *, before: dict[str, Any] | None = None) -> None:
    audit_record(
        actor=None,
        action="earnings.hold",
        target=hold,
        before=before,
        after={
            "earning": hold.earning_id,
            "cause": hold.cause,
            "detail": hold.detail,
            "rule_action": hold.rule_action_id,
        },
    )


@transaction.atomic
def earnings_hold_discounted(
    *,
    annotation_ids: Sequence[int],
    reason: str,
    rule_action_id: int | None = None,
    at: datetime | None = None,
) -> list[Hold]:
    """Hold the pay of discarded work for finance, with the rule action that discarded it as the
    evidence; return the holds made or changed.

    Each per-task earning of `annotation_ids`: pending is held; payable is held too, taken back
    out of payable first (`earning_withhold`); one already held for another cause keeps its open
    hold, which now names the discount and links the evidence; reversed stays reversed. An earning
    held for a discount once (open or resolved) is left alone, so repeating the event changes
    nothing and finance's decision stands. A held earning moves only by finance's decision: later
    events (its task becoming final) move pending pay only. Locks as the module says."""
    at = at or timezone.now()
    ids = sorted(set(annotation_ids))
    if not ids:
        return []
    action = (
        RuleAction.objects.select_related("rule").filter(pk=rule_action_id).first()
        if rule_action_id is not None
        else None
    )
    detail = discount_detail(action=action, reason=reason)
    # The open holds first, as resolving one locks them (hold, earning, accounts).
    list(
        Hold.objects.select_for_update(of=("self",))
        .filter(
            resolved_at__isnull=True,
            earning__annotation_id__in=ids,
            earning__review_id__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    earnings = list(
        Earning.objects.select_for_update(of=("self",))
        .filter(annotation_id__in=ids, review_id__isnull=True)
        .order_by("pk")
    )
    # Read once the earnings are locked: an earning's holds are made and resolved only under its
    # lock, so the same event handled at the same moment elsewhere is seen here, done.
    known = list(Hold.objects.filter(earning_id__in=[earning.pk for earning in earnings]))
    discounted = {hold.earning_id for hold in known if hold.cause == HoldCause.DISCOUNTED}
    open_holds = {hold.earning_id: hold for hold in known if hold.is_open}
    holds: list[Hold] = []
    for earning in earnings:
        if earning.pk in discounted or earning.status == EarningStatus.REVERSED:
            continue
        fields = {"cause": HoldCause.DISCOUNTED, "detail": detail, "rule_action": action}
        held = open_holds.get(earning.pk)
        if earning.status == EarningStatus.HELD and held is not None:
            before = {"cause": held.cause, "detail": held.detail}
            Hold.objects.filter(pk=held.pk).update(**fields)
            held.refresh_from_db()
            _hold_audit(held, before=before)
            holds.append(held)
            continue
        was = earning.status
        hold = Hold.objects.create(earning=earning, created_at=at, **fields)
        if was == EarningStatus.PAYABLE:
            earning_withhold(earning=earning, hold_id=hold.pk, at=at)
        else:
            Earning.objects.filter(pk=earning.pk).update(status=EarningStatus.HELD)
        _hold_audit(hold, before={"status": was})
        holds.append(hold)
    return holds
