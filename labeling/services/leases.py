"""Leases: a person's time-limited hold on a slot, and the locks every queue operation takes.

Lock order, everywhere: the person's state in the project (`WorkerProjectState`, the claim's
per-person lock), then slot, then lease, then task. Counters change by single F() updates.
Claims are in `labeling.services.claim`, submissions and skips in `labeling.services.submit`;
this module opens, extends, resumes and ends leases, and returns expired ones to the queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from accounts.models import User
from core.errors import NotFound
from labeling.errors import LeaseExpired, LeaseNotActive
from labeling.models import (
    Lease,
    LeaseState,
    Project,
    SlotKind,
    SlotState,
    Task,
    TaskParticipation,
    WorkerProjectState,
    WorkSlot,
)


def worker_state_get_for_update(*, user_id: int, project_id: int) -> WorkerProjectState:
    """Lock (creating at first use) a person's state in a project: the claim's per-person lock."""
    state = (
        WorkerProjectState.objects.select_for_update()
        .filter(user_id=user_id, project_id=project_id)
        .first()
    )
    if state is None:
        state, _ = WorkerProjectState.objects.get_or_create(user_id=user_id, project_id=project_id)
        state = WorkerProjectState.objects.select_for_update().get(pk=state.pk)
    return state


def worker_state_count_claim(
    state: WorkerProjectState, *, gold: bool, now: datetime, counted: bool = True
) -> None:
    """Count a new lease in the person's state; `counted` False (review and rework leases) only
    touches the row. Every claim that leases changes this row: a concurrent one-statement claim
    of the same person sees the change and judges afresh (see `labeling.services.claim`)."""
    WorkerProjectState.objects.filter(pk=state.pk).update(
        tasks_claimed=F("tasks_claimed") + (1 if counted else 0),
        gold_claimed=F("gold_claimed") + (1 if gold else 0),
        updated_at=now,
    )


def lease_open(
    *,
    slot_id: int,
    task: Task,
    project: Project,
    user: User,
    now: datetime,
    expires_at: datetime,
    participate: bool = True,
) -> Lease:
    """Start the lease of `user` on a slot the caller has just marked leased (inside its claim
    transaction). `participate` records that they hold the task, so it is never offered to them
    again (rework: they already hold it). The lease comes with its project and `task`, which
    carries what the annotator sees."""
    if participate:
        TaskParticipation.objects.create(task_id=task.pk, user_id=user.pk)
    lease = Lease.objects.create(
        slot_id=slot_id,
        task_id=task.pk,
        project_id=project.pk,
        user_id=user.pk,
        claimed_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )
    lease.project = project
    lease.task = task
    return lease


def lease_resume(lease: Lease, now: datetime) -> Lease:
    """Hand a held lease out again (a reloaded page, a second tab, a rework reopened): its task is
    shown afresh now, so its active time restarts now. Whatever happened since its last sign
    (a task held in reserve, a page left or closed) was not seen being worked on: not credited."""
    Lease.objects.filter(pk=lease.pk).update(last_seen_at=now)
    lease.last_seen_at = now
    return lease


def lease_lock(lease_id: int, user: User, *, with_project: bool = False) -> Lease:
    """Lock the caller's lease (with its project and slot when asked); NotFound if not theirs."""
    leases = Lease.objects.filter(pk=lease_id, user_id=user.pk)
    if with_project:
        leases = leases.select_related("project", "slot").select_for_update(of=("self",))
    else:
        leases = leases.select_for_update()
    lease = leases.first()
    if lease is None:
        raise NotFound("There is no such task lease of yours.")
    return lease


def lease_ensure_live(lease: Lease, now: datetime) -> None:
    """Raise LeaseNotActive or LeaseExpired unless the lease is usable.

    The caller's transaction rolls back; callers then record the expiry with `lease_expire_if_due`.
    """
    if lease.state != LeaseState.ACTIVE:
        if lease.state == LeaseState.EXPIRED:
            raise LeaseExpired()
        raise LeaseNotActive()
    if lease.expires_at <= now:
        raise LeaseExpired()


def active_increment(lease: Lease, project: Project, now: datetime) -> int:
    """The active time between the lease's last sign of work and `now`: the gap, at most the
    project's idle cap. Only signs from the page at work restart the clock (claim, heartbeat,
    start, submit, skip, release, and the moves below), so time nobody was seen working is not
    credited."""
    gap = max(0.0, (now - lease.last_seen_at).total_seconds())
    return int(min(gap, project.idle_cap_seconds))


def lease_end(
    lease: Lease, *, state: str, now: datetime, forget_holder: bool, reopen: bool = True
) -> None:
    """End a locked lease; `reopen` returns its slot to the queue, `forget_holder` lets the
    person be offered the task again (never for rework: the author keeps their place)."""
    Lease.objects.filter(pk=lease.pk).update(state=state, ended_at=now)
    lease.state, lease.ended_at = state, now
    if reopen:
        _slots_reopen(WorkSlot.objects.filter(pk=lease.slot_id, state=SlotState.LEASED))
    if forget_holder and not lease_is_rework(lease):
        TaskParticipation.objects.filter(task_id=lease.task_id, user_id=lease.user_id).delete()


def _slots_reopen(slots: Any) -> int:
    """Return leased slots to the queue; a gold slot is dropped (gold is served only by the mix)."""
    return int(
        slots.update(
            state=Case(
                When(kind=SlotKind.GOLD, then=Value(SlotState.CANCELLED)),
                default=Value(SlotState.OPEN),
            ),
            lease_expires_at=None,
        )
    )


def lease_hand_in(lease: Lease, *, now: datetime, active_seconds: int) -> None:
    """End a locked lease whose work was handed in (an annotation or a verdict): submitted, with
    its active time, and its slot done."""
    Lease.objects.filter(pk=lease.pk).update(
        state=LeaseState.SUBMITTED, ended_at=now, active_seconds=active_seconds, last_seen_at=now
    )
    WorkSlot.objects.filter(pk=lease.slot_id).update(state=SlotState.DONE, lease_expires_at=None)


def lease_is_rework(lease: Lease) -> bool:
    # The author of rejected work keeps their place on the task: nobody else may take it over.
    return WorkSlot.objects.filter(pk=lease.slot_id, kind=SlotKind.REWORK).exists()


def slot_lease_expire(slot_id: int, now: datetime) -> None:
    """End the (expired) active lease on a slot and forget its holder, so others may take the task."""
    lease = (
        Lease.objects.select_for_update().filter(slot_id=slot_id, state=LeaseState.ACTIVE).first()
    )
    if lease is None:
        return
    Lease.objects.filter(pk=lease.pk).update(state=LeaseState.EXPIRED, ended_at=now)
    if not lease_is_rework(lease):
        TaskParticipation.objects.filter(task_id=lease.task_id, user_id=lease.user_id).delete()


def lease_heartbeat(*, lease_id: int, user: User, now: datetime | None = None) -> Lease:
    """Extend a live lease by the project's lease time and count the active time since the last sign."""
    return _lease_extend(lease_id, user, now or timezone.now(), credit=True)


def lease_start(*, lease_id: int, user: User, now: datetime | None = None) -> Lease:
    """The page shows this task now (one it held in reserve): extend the lease as a heartbeat does,
    but count nothing before now, since nobody was working on it (see `lease_resume`).

    Raises LeaseExpired or LeaseNotActive as `lease_heartbeat` does."""
    return _lease_extend(lease_id, user, now or timezone.now(), credit=False)


def _lease_extend(lease_id: int, user: User, now: datetime, *, credit: bool) -> Lease:
    try:
        with transaction.atomic():
            lease = lease_lock(lease_id, user)
            project = Project.objects.get(pk=lease.project_id)
            lease_ensure_live(lease, now)
            if credit:
                lease.active_seconds += active_increment(lease, project, now)
            lease.last_seen_at = now
            lease.expires_at = now + timedelta(seconds=project.lease_seconds)
            lease.save(update_fields=["active_seconds", "last_seen_at", "expires_at"])
            WorkSlot.objects.filter(pk=lease.slot_id).update(lease_expires_at=lease.expires_at)
            return lease
    except LeaseExpired:
        lease_expire_if_due(lease_id, user, now)
        raise


def leases_reserved_start(finished: Lease, now: datetime, *, newer_only: bool = False) -> None:
    """The person moves on to the task held in reserve: its active time starts now, not at its claim.

    `newer_only`: only leases claimed after `finished` (releasing the task held in reserve must
    not restart the clock of the task being worked on)."""
    leases = Lease.objects.filter(
        user_id=finished.user_id, project_id=finished.project_id, state=LeaseState.ACTIVE
    ).exclude(pk=finished.pk)
    if newer_only:
        leases = leases.filter(pk__gt=finished.pk)  # ids grow with claims
    leases.update(last_seen_at=now)


def lease_expire_if_due(lease_id: int, user: User, now: datetime) -> None:
    """Record an expiry found by a refused call: end the lease and return its slot to the queue."""
    with transaction.atomic():
        lease = Lease.objects.select_for_update().filter(pk=lease_id, user_id=user.pk).first()
        if lease is not None and lease.state == LeaseState.ACTIVE and lease.expires_at <= now:
            lease_end(lease, state=LeaseState.EXPIRED, now=now, forget_holder=True)


def lease_release(*, lease_id: int, user: User, now: datetime | None = None) -> Lease:
    """Give the task back at once (e.g. leaving the page); it may be offered to this person again."""
    now = now or timezone.now()
    with transaction.atomic():
        lease = lease_lock(lease_id, user)
        if lease.state != LeaseState.ACTIVE:
            return lease  # releasing twice, or after expiry, changes nothing
        project = Project.objects.get(pk=lease.project_id)
        lease.active_seconds += active_increment(lease, project, now)
        lease.save(update_fields=["active_seconds"])
        lease_end(lease, state=LeaseState.RELEASED, now=now, forget_holder=True)
        leases_reserved_start(lease, now, newer_only=True)
        return lease


def leases_reclaim_expired(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Return every slot whose lease ran out to the queue; return how many were reclaimed."""
    now = now or timezone.now()
    reclaimed = 0
    while True:
        with transaction.atomic():
            slots = WorkSlot.objects.filter(
                state=SlotState.LEASED, lease_expires_at__lt=now
            ).order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                slots = slots.select_for_update(skip_locked=True)
            ids = list(slots.values_list("pk", flat=True)[:batch_size])
            for slot_id in ids:
                slot_lease_expire(slot_id, now)
            _slots_reopen(WorkSlot.objects.filter(pk__in=ids, state=SlotState.LEASED))
        reclaimed += len(ids)
        if len(ids) < batch_size:
            return reclaimed


def leases_release_for_person(
    *, user: User, project_id: int | None, now: datetime | None = None
) -> list[int]:
    """End the person's active leases (in one project, or everywhere); their tasks go back.

    Return the released lease ids. Each lease is locked and released by `lease_release`.
    """
    now = now or timezone.now()
    leases = Lease.objects.filter(user_id=user.pk, state=LeaseState.ACTIVE)
    if project_id is not None:
        leases = leases.filter(project_id=project_id)
    ids = list(leases.order_by("pk").values_list("pk", flat=True))
    for lease_id in ids:
        lease_release(lease_id=lease_id, user=user, now=now)
    return ids
