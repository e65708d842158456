"""Claims: leasing the next slot of a project to a person, by one of two writers.

Whether a person may take work is decided by the conditions of
`labeling.services.claim_conditions`, written once. On PostgreSQL the ordinary claim is one
statement (`labeling.services.claim_statement`): it locks the person's project state, evaluates
the conditions, picks the best open slot with `FOR UPDATE SKIP LOCKED LIMIT 1` only if they all
hold, marks it leased, records the participation, counts the claim and inserts the lease,
returning the conditions' values with the lease. When no lease comes back, those values say
why, and the claim goes on accordingly: a refusal is worded, a person at their limit gets a held
lease back, a gold task is served, an expired lease is taken over, each by `_claim_locked`, the
transactional writer, which evaluates the same conditions under the same lock. SQLite (the
embedded default) always uses that writer: its transactions are IMMEDIATE (one writer at a time)
and it takes the slot by compare-and-set. Review claims use it too, with the review conditions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from labeling.errors import NoWorkAvailable
from labeling.models import (
    Lease,
    LeaseState,
    Project,
    SlotKind,
    SlotState,
    Task,
    WorkerProjectState,
    WorkSlot,
)
from labeling.policy import work_scope
from labeling.services.claim_conditions import (
    candidate_slots,
    claim_context,
    claim_refusal,
    no_work_reason,
    project_not_found,
)
from labeling.services.claim_statement import claim_statement, leased_of
from labeling.services.claimed import Claim, ClaimOutcome, LeasedTask
from labeling.services.gold import gold_draw, gold_slot_lease
from labeling.services.leases import (
    lease_open,
    lease_resume,
    slot_lease_expire,
    worker_state_count_claim,
    worker_state_get_for_update,
)
from labeling.services.standing import (
    worker_state_lock_existing,
)
from labeling.services.statements import statements_enabled

_CLAIM_ATTEMPTS = 5


# --- The claim ----------------------------------------------------------------------------------


def slot_claim_next(
    *,
    project: Project,
    user: User,
    now: datetime | None = None,
    prefetch: bool = False,
    draw: float | None = None,
) -> Claim:
    """Lease the best open slot of `project` to `user`.

    Raises NotFound (a project the access policy hides), NotQualified (403) or NoWorkAvailable
    (404, with a reason). A person already at the project's lease limit gets their oldest
    active lease back instead of a new one. `prefetch` (the labeling page reserving the next
    task while the person works on this one) allows one lease beyond the limit, and at that
    limit returns the newest lease, the one held in reserve. `draw` is the random draw of the
    gold mix (a fresh one by default).
    """
    claimed = _claim_annotate(
        project_id=project.pk, user=user, now=now or timezone.now(), prefetch=prefetch, draw=draw
    )
    if isinstance(claimed, Claim):
        return claimed
    return Claim(lease=claimed.as_lease(project), resumed=False)


def slot_claim_by_id(*, project_id: int, user: User, prefetch: bool = False) -> ClaimOutcome:
    """`slot_claim_next` for a project known by id, in plain values: on PostgreSQL the ordinary
    claim is one statement and builds no model."""
    claimed = _claim_annotate(
        project_id=project_id, user=user, now=timezone.now(), prefetch=prefetch, draw=None
    )
    if isinstance(claimed, Claim):
        return ClaimOutcome.of_claim(claimed)
    return ClaimOutcome(leased=claimed)


def _claim_annotate(
    *, project_id: int, user: User, now: datetime, prefetch: bool, draw: float | None
) -> LeasedTask | Claim:
    """A claim of annotate work: the one statement where it can decide, else the transactional
    writer (see the module docstring)."""
    draw = gold_draw() if draw is None else draw
    if statements_enabled():
        for _ in range(_CLAIM_ATTEMPTS):
            flags = claim_statement(
                user=user, project_id=project_id, now=now, prefetch=prefetch, draw=draw
            )
            if flags is None:
                raise project_not_found()
            if flags["lease_id"] is not None:
                return leased_of(flags, user=user, now=now)
            refusal = claim_refusal(flags, user=user, now=now)
            if refusal is not None:
                raise refusal
            if flags["st_id"] is None:
                WorkerProjectState.objects.get_or_create(user_id=user.pk, project_id=project_id)
                continue  # the person's first claim in the project: now with their state
            if flags["raced"]:
                continue  # another claim of theirs changed their state meanwhile: judge afresh
            break  # at the limit, gold due, or no open slot: the transactional writer goes on
    return _claim(project_id, user, now, prefetch, kind=SlotKind.ANNOTATE, draw=draw)


def _claim(
    project_id: int,
    user: User,
    now: datetime,
    prefetch: bool,
    *,
    kind: str,
    max_level: int = 0,
    draw: float | None = None,
) -> Claim:
    for _ in range(_CLAIM_ATTEMPTS):
        claim = _claim_locked(
            project_id, user, now, prefetch, kind=kind, max_level=max_level, draw=draw
        )
        if claim is not None:
            return claim
    # Every candidate was taken between our read and our write: the queue is busy, not empty.
    raise NoWorkAvailable("The queue is very busy; try again.", extra={"reason": "contention"})


def slot_claim_of_kind(
    *, project: Project, user: User, now: datetime, prefetch: bool, kind: str, max_level: int
) -> Claim:
    """A claim of review work (`kind`), by the transactional writer under the same conditions."""
    return _claim(project.pk, user, now, prefetch, kind=kind, max_level=max_level)


@transaction.atomic
def _claim_locked(
    project_id: int,
    user: User,
    now: datetime,
    prefetch: bool,
    *,
    kind: str,
    max_level: int = 0,
    draw: float | None = None,
) -> Claim | None:
    """The transactional writer: every outcome of a claim, on every database."""
    draw = gold_draw() if draw is None else draw
    context = claim_context(
        user_id=user.pk,
        scope=work_scope(user, kind),
        project_id=project_id,
        now=now,
        prefetch=prefetch,
        draw=draw,
        kind=kind,
    )
    # One claim per person and project at a time: the lease limit holds even with double clicks.
    state = worker_state_lock_existing(user_id=user.pk, project_id=project_id)
    if state is None:
        if not context.exists():
            raise project_not_found()
        state = worker_state_get_for_update(user_id=user.pk, project_id=project_id)
    flags = context.first()
    if flags is None:
        raise project_not_found()
    refusal = claim_refusal(flags, user=user, now=now)
    if refusal is not None:
        raise refusal
    project = Project.objects.get(pk=project_id)
    if not flags["c_under_limit"]:
        held = list(
            Lease.objects.filter(
                user_id=user.pk, project_id=project_id, state=LeaseState.ACTIVE, expires_at__gt=now
            )
            .select_related("task", "project")
            .order_by("claimed_at", "pk")[: project.max_leases_per_person + 1]
        )
        return Claim(lease=lease_resume(held[-1] if prefetch else held[0], now), resumed=True)
    expires_at = now + timedelta(seconds=project.lease_seconds)
    if not flags["c_no_gold_due"]:
        gold = gold_slot_lease(project=project, user=user, now=now, expires_at=expires_at)
        if gold is not None:
            worker_state_count_claim(state, gold=True, now=now)
            return Claim(lease=gold, resumed=False)
    row = None
    for wanted in (SlotState.OPEN, SlotState.LEASED):
        slots = candidate_slots(
            project_id=project_id,
            user_id=user.pk,
            state=wanted,
            now=now,
            kind=kind,
            max_level=max_level,
        )
        if connection.features.has_select_for_update_skip_locked:
            slots = slots.select_for_update(skip_locked=True, of=("self",))
        row = slots.values_list("id", "task_id", "state", "task__data", "task__pre_annotation")[
            :1
        ].first()
        if row is not None:
            break
    if row is None:
        raise no_work_reason(project_id, now, kind)
    slot_id, task_id, slot_state, task_data, pre_annotation = row
    if slot_state == SlotState.LEASED:
        slot_lease_expire(slot_id, now)
    taken = WorkSlot.objects.filter(pk=slot_id, state=slot_state).update(
        state=SlotState.LEASED, lease_expires_at=expires_at
    )
    if taken != 1:
        return None  # somebody else took it first (SQLite compare-and-set); try the next one
    worker_state_count_claim(state, gold=False, now=now, counted=kind == SlotKind.ANNOTATE)
    lease = lease_open(
        slot_id=slot_id,
        task=Task(pk=task_id, project_id=project_id, data=task_data, pre_annotation=pre_annotation),
        project=project,
        user=user,
        now=now,
        expires_at=expires_at,
    )
    return Claim(lease=lease, resumed=False)
