"""The work queue: claim the next slot, heartbeat, submit, skip, release, and reclaim expired leases.

Lock order, everywhere: the person's state in the project (`WorkerProjectState`, which also holds
their gold mix and any suspension), then slot, then lease, then task. Counters change by single
F() updates. Review claims go through the same path with slots of kind `review` (see
`labeling.services.review`); gold tasks are leased on fresh slots by `labeling.services.gold`. On PostgreSQL the claim is one indexed `FOR UPDATE SKIP LOCKED` query, so
concurrent annotators never wait for each other; on SQLite the transaction is IMMEDIATE (one
writer at a time) and the slot is taken by compare-and-set, the same code path on both.

On PostgreSQL the ordinary claim and submit first try one call each to a database function
(`labeling.services.queue_sql`) that does what this module does for them; whatever is not
ordinary comes back here, where every outcome is decided and worded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Exists, F, Max, OuterRef, Value, When
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, NotFound, ValidationFailed
from kit.label_schema import LabelSchema, SchemaError, validate_result
from labeling.errors import LeaseExpired, LeaseNotActive, NotQualified, NoWorkAvailable
from labeling.models import (
    Annotation,
    Lease,
    LeaseState,
    Project,
    ProjectStatus,
    SlotKind,
    SlotState,
    Task,
    TaskParticipation,
    TaskStatus,
    WorkerProjectState,
    WorkSlot,
)
from labeling.services.completion import (
    customer_has_webhooks,
    initial_annotation_status,
    task_after_submission,
    task_completed_announce,
)
from labeling.services.gold import gold_draw, gold_due, gold_feedback, gold_slot_lease
from labeling.services.queue_sql import LeasedTask, claim_annotate_sql, submit_annotate_sql
from workforce.selectors import worker_eligibility

_CLAIM_ATTEMPTS = 5


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


def worker_state_count_claim(state: WorkerProjectState, *, gold: bool, now: datetime) -> None:
    WorkerProjectState.objects.filter(pk=state.pk).update(
        tasks_claimed=F("tasks_claimed") + 1,
        gold_claimed=F("gold_claimed") + (1 if gold else 0),
        updated_at=now,
    )


@dataclass(frozen=True)
class Claim:
    lease: Lease
    resumed: bool  # True when the person already held this lease (a repeated claim is harmless)


def label_schema_of(project: Project) -> LabelSchema:
    return LabelSchema.of(
        task_type=project.task_type,
        labels=project.labels,
        max_labels=project.max_labels,
        allow_overlapping_spans=project.allow_overlapping_spans,
    )


def _candidate_slots(
    project: Project, user: User, *, state: str, now: datetime, kind: str, max_level: int
) -> Any:
    done_by_user = TaskParticipation.objects.filter(task_id=OuterRef("task_id"), user_id=user.pk)
    slots = WorkSlot.objects.filter(project_id=project.pk, kind=kind, state=state)
    if kind == SlotKind.ANNOTATE:
        slots = slots.filter(level=0).order_by("-priority", "order_key")
    else:
        # A reviewer holds every level up to theirs; the higher, scarcer levels go first.
        slots = slots.filter(level__gte=1, level__lte=max_level).order_by(
            "-level", "-priority", "order_key"
        )
    if state == SlotState.LEASED:
        slots = slots.filter(lease_expires_at__lt=now)
    slots = slots.filter(~Exists(done_by_user))
    if connection.features.has_select_for_update_skip_locked:
        slots = slots.select_for_update(skip_locked=True, of=("self",))
    return slots.values_list("id", "task_id", "state", "task__data", "task__pre_annotation")[:1]


def _expire_lease_of_slot(slot_id: int, now: datetime) -> None:
    """End the (expired) active lease on a slot and forget its holder, so others may take the task."""
    lease = (
        Lease.objects.select_for_update().filter(slot_id=slot_id, state=LeaseState.ACTIVE).first()
    )
    if lease is None:
        return
    Lease.objects.filter(pk=lease.pk).update(state=LeaseState.EXPIRED, ended_at=now)
    if not _is_rework(lease):
        TaskParticipation.objects.filter(task_id=lease.task_id, user_id=lease.user_id).delete()


def _no_work_reason(project: Project, user: User, now: datetime, kind: str) -> NoWorkAvailable:
    slots = WorkSlot.objects.filter(project_id=project.pk, kind=kind)
    if kind == SlotKind.REVIEW and not slots.filter(state=SlotState.OPEN).exists():
        return NoWorkAvailable(
            "Nothing in this project waits for review right now.", extra={"reason": "nothing_left"}
        )
    if slots.filter(state=SlotState.LEASED, lease_expires_at__gte=now).exists():
        return NoWorkAvailable(
            "Every remaining task is being worked on by someone else right now; try again in a few minutes.",
            extra={"reason": "all_leased"},
        )
    if slots.filter(state=SlotState.OPEN).exists():
        return NoWorkAvailable(
            "You have already worked on every remaining task of this project.",
            extra={"reason": "all_done_by_you"},
        )
    return NoWorkAvailable(
        "This project has no tasks left to label.", extra={"reason": "nothing_left"}
    )


def slot_claim_next(
    *,
    project: Project,
    user: User,
    now: datetime | None = None,
    prefetch: bool = False,
    sql_tried: bool = False,
    draw: float | None = None,
) -> Claim:
    """Lease the best open slot of `project` to `user`.

    Raises NotQualified (403) or NoWorkAvailable (404, with a reason). A person already at the
    project's lease limit gets their oldest active lease back instead of a new one. `prefetch`
    (the labeling page reserving the next task while the person works on this one) allows one
    lease beyond the limit, and at that limit returns the newest lease, the one held in reserve.
    The ordinary case runs as one PostgreSQL call (`queue_sql`); `sql_tried` says the caller
    already tried it (`slot_claim_by_id`), and `draw` is the random draw of the gold mix that
    try used (both paths must decide with the same one).
    """
    now = now or timezone.now()
    draw = gold_draw() if draw is None else draw
    if not sql_tried:
        leased = claim_annotate_sql(
            project_id=project.pk, user=user, now=now, prefetch=prefetch, draw=draw
        )
        if leased is not None:
            return Claim(lease=leased.as_lease(project), resumed=False)
    reason = worker_eligibility(
        user=user, skill_id=project.required_skill_id, min_level=project.required_level
    )
    if reason is not None:
        raise NotQualified(reason)
    return _claim(project, user, now, prefetch, kind=SlotKind.ANNOTATE, draw=draw)


@dataclass(frozen=True)
class ClaimOutcome:
    """A claim as the annotator's tools see it: the lease with its task and project, in plain values."""

    leased: LeasedTask
    state: str = LeaseState.ACTIVE
    active_seconds: int = 0
    resumed: bool = False

    @classmethod
    def of_claim(cls, claim: Claim) -> ClaimOutcome:
        lease = claim.lease
        return cls(
            leased=LeasedTask.of_lease(lease),
            state=lease.state,
            active_seconds=lease.active_seconds,
            resumed=claim.resumed,
        )


def slot_claim_by_id(
    *, project_id: int, user: User, project_of: Callable[[], Project], prefetch: bool = False
) -> ClaimOutcome:
    """`slot_claim_next` for a project known by id: the ordinary claim runs without loading the
    project (one PostgreSQL call, and no model is built); `project_of()` loads it, applying the
    caller's access rules, only when the Python path must decide."""
    draw = gold_draw()
    leased = claim_annotate_sql(
        project_id=project_id, user=user, now=timezone.now(), prefetch=prefetch, draw=draw
    )
    if leased is not None:
        return ClaimOutcome(leased=leased)
    claim = slot_claim_next(
        project=project_of(), user=user, prefetch=prefetch, sql_tried=True, draw=draw
    )
    return ClaimOutcome.of_claim(claim)


def _claim(
    project: Project,
    user: User,
    now: datetime,
    prefetch: bool,
    *,
    kind: str,
    max_level: int = 0,
    draw: float | None = None,
) -> Claim:
    if project.status != ProjectStatus.ACTIVE:
        raise NoWorkAvailable(
            f"This project is {project.get_status_display().lower()}; it takes no work now.",
            extra={"reason": "project_not_active"},
        )
    for _ in range(_CLAIM_ATTEMPTS):
        claim = _claim_once(project, user, now, prefetch, kind=kind, max_level=max_level, draw=draw)
        if claim is not None:
            return claim
    # Every candidate was taken between our read and our write: the queue is busy, not empty.
    raise NoWorkAvailable("The queue is very busy; try again.", extra={"reason": "contention"})


def suspension_in_force(state: WorkerProjectState, now: datetime) -> bool:
    """Whether a quality rule's suspension from the project holds for the person at `now`."""
    return state.is_suspended and (state.suspended_until is None or state.suspended_until > now)


def _restriction(state: WorkerProjectState, now: datetime) -> str | None:
    if suspension_in_force(state, now):
        until = (
            f" until {state.suspended_until:%Y-%m-%d %H:%M} UTC" if state.suspended_until else ""
        )
        return f"You are suspended from this project{until}; see your quality page to appeal."
    if state.needs_retraining:
        return (
            "This project asks you to retrain before you take more work; a manager will clear it."
        )
    return None


@transaction.atomic
def _claim_once(
    project: Project,
    user: User,
    now: datetime,
    prefetch: bool = False,
    *,
    kind: str = SlotKind.ANNOTATE,
    max_level: int = 0,
    draw: float | None = None,
) -> Claim | None:
    # One claim per person and project at a time: the lease limit holds even with double clicks.
    state = worker_state_get_for_update(user_id=user.pk, project_id=project.pk)
    restriction = _restriction(state, now)
    if restriction is not None:
        raise NotQualified(restriction)
    held = list(
        Lease.objects.filter(
            user_id=user.pk, project_id=project.pk, state=LeaseState.ACTIVE, expires_at__gt=now
        )
        .select_related("task", "project")
        .order_by("claimed_at")[: project.max_leases_per_person + 1]
    )
    limit = project.max_leases_per_person + (1 if prefetch else 0)
    if len(held) >= limit:
        return Claim(lease=lease_resume(held[-1] if prefetch else held[0], now), resumed=True)

    expires_at = now + timedelta(seconds=project.lease_seconds)
    if kind == SlotKind.ANNOTATE and gold_due(project=project, user=user, state=state, draw=draw):
        gold = gold_slot_lease(project=project, user=user, now=now, expires_at=expires_at)
        if gold is not None:
            worker_state_count_claim(state, gold=True, now=now)
            return Claim(lease=gold, resumed=False)
    row = None
    for slot_state in (SlotState.OPEN, SlotState.LEASED):
        row = _candidate_slots(
            project, user, state=slot_state, now=now, kind=kind, max_level=max_level
        ).first()
        if row is not None:
            break
    if row is None:
        raise _no_work_reason(project, user, now, kind)
    slot_id, task_id, slot_state, task_data, pre_annotation = row
    if slot_state == SlotState.LEASED:
        _expire_lease_of_slot(slot_id, now)
    taken = WorkSlot.objects.filter(pk=slot_id, state=slot_state).update(
        state=SlotState.LEASED, lease_expires_at=expires_at
    )
    if taken != 1:
        return None  # somebody else took it first (SQLite compare-and-set); try the next one
    if kind == SlotKind.ANNOTATE:
        worker_state_count_claim(state, gold=False, now=now)
    # The claim already read what the annotator sees; no need to load the task again.
    lease = lease_open(
        slot_id=slot_id,
        task=Task(pk=task_id, project_id=project.pk, data=task_data, pre_annotation=pre_annotation),
        project=project,
        user=user,
        now=now,
        expires_at=expires_at,
    )
    return Claim(lease=lease, resumed=False)


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


def _lease_for_update(lease_id: int, user: User, *, with_project: bool = False) -> Lease:
    leases = Lease.objects.filter(pk=lease_id, user_id=user.pk)
    if with_project:
        leases = leases.select_related("project", "slot").select_for_update(of=("self",))
    else:
        leases = leases.select_for_update()
    lease = leases.first()
    if lease is None:
        raise NotFound("There is no such task lease of yours.")
    return lease


def _ensure_live(lease: Lease, now: datetime) -> None:
    """Raise LeaseNotActive or LeaseExpired unless the lease is usable.

    The caller's transaction rolls back; callers then record the expiry with `_expire_if_due`.
    """
    if lease.state != LeaseState.ACTIVE:
        if lease.state == LeaseState.EXPIRED:
            raise LeaseExpired()
        raise LeaseNotActive()
    if lease.expires_at <= now:
        raise LeaseExpired()


def _active_increment(lease: Lease, project: Project, now: datetime) -> int:
    """The active time between the lease's last sign of work and `now`: the gap, at most the
    project's idle cap. Only signs from the page at work restart the clock (claim, heartbeat,
    start, submit, skip, release, and the moves below), so time nobody was seen working is not
    credited."""
    gap = max(0.0, (now - lease.last_seen_at).total_seconds())
    return int(min(gap, project.idle_cap_seconds))


def lease_resume(lease: Lease, now: datetime) -> Lease:
    """Hand a held lease out again (a reloaded page, a second tab, a rework reopened): its task is
    shown afresh now, so its active time restarts now. Whatever happened since its last sign
    (a task held in reserve, a page left or closed) was not seen being worked on: not credited."""
    Lease.objects.filter(pk=lease.pk).update(last_seen_at=now)
    lease.last_seen_at = now
    return lease


def _lease_end(
    lease: Lease, *, state: str, now: datetime, forget_holder: bool, reopen: bool = True
) -> None:
    Lease.objects.filter(pk=lease.pk).update(state=state, ended_at=now)
    lease.state, lease.ended_at = state, now
    if reopen:
        _slots_reopen(WorkSlot.objects.filter(pk=lease.slot_id, state=SlotState.LEASED))
    if forget_holder and not _is_rework(lease):
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


def _is_rework(lease: Lease) -> bool:
    # The author of rejected work keeps their place on the task: nobody else may take it over.
    return WorkSlot.objects.filter(pk=lease.slot_id, kind=SlotKind.REWORK).exists()


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
            lease = _lease_for_update(lease_id, user)
            project = Project.objects.get(pk=lease.project_id)
            _ensure_live(lease, now)
            if credit:
                lease.active_seconds += _active_increment(lease, project, now)
            lease.last_seen_at = now
            lease.expires_at = now + timedelta(seconds=project.lease_seconds)
            lease.save(update_fields=["active_seconds", "last_seen_at", "expires_at"])
            WorkSlot.objects.filter(pk=lease.slot_id).update(lease_expires_at=lease.expires_at)
            return lease
    except LeaseExpired:
        _expire_if_due(lease_id, user, now)
        raise


def lease_submit(
    *, lease_id: int, user: User, result: Any, now: datetime | None = None
) -> Annotation:
    """Store the person's annotation for their leased task and let the pipeline decide what follows.

    Raises LeaseExpired (the task went back to the queue; nothing is saved), LeaseNotActive,
    Conflict for a review lease (reviews take a verdict), or ValidationFailed naming the bad part
    of the result. On a gold task the annotation carries its `gold_score` when it returns.
    """
    now = now or timezone.now()
    submitted = submit_annotate_sql(lease_id=lease_id, user=user, result=result, now=now)
    if submitted is not None:
        return submitted.as_annotation()
    return lease_submit_python(lease_id=lease_id, user=user, result=result, now=now)


@dataclass(frozen=True)
class Submission:
    """A submission as the annotator's tools see it; `feedback` after a gold task in training mode."""

    annotation_id: int
    task_status: str
    feedback: dict[str, Any] | None = None


def lease_submit_outcome(*, lease_id: int, user: User, result: Any) -> Submission:
    """`lease_submit` for callers that need no models (the API): the ordinary submission builds
    none; after a gold task it carries the training-mode feedback."""
    now = timezone.now()
    submitted = submit_annotate_sql(lease_id=lease_id, user=user, result=result, now=now)
    if submitted is not None:
        return Submission(annotation_id=submitted.annotation_id, task_status=submitted.task_status)
    annotation = lease_submit_python(lease_id=lease_id, user=user, result=result, now=now)
    feedback = None
    if annotation.task.is_gold:
        project = Project.objects.get(pk=annotation.project_id)
        feedback = gold_feedback(annotation=annotation, project=project)
    return Submission(
        annotation_id=annotation.pk, task_status=annotation.task.status, feedback=feedback
    )


def lease_submit_python(*, lease_id: int, user: User, result: Any, now: datetime) -> Annotation:
    """`lease_submit` without the PostgreSQL function: every kind of work and every outcome."""
    try:
        with transaction.atomic():
            lease = _lease_for_update(lease_id, user, with_project=True)
            project = lease.project
            _ensure_live(lease, now)
            kind = lease.slot.kind
            if kind == SlotKind.REVIEW:
                raise Conflict(
                    "This is a review task: give a verdict through the review endpoint.",
                    code="review_lease",
                    extra={"verdict_url": f"/api/v1/leases/{lease.pk}/verdict/"},
                )
            task = Task.objects.select_for_update().get(pk=lease.task_id)
            clean = validated_result(project, task, result)
            active = lease.active_seconds + _active_increment(lease, project, now)
            revision = 1
            if kind == SlotKind.REWORK:
                latest = Annotation.objects.filter(task_id=task.pk, author_id=user.pk).aggregate(
                    latest=Max("revision")
                )["latest"]
                revision = (latest or 0) + 1
            annotation = Annotation.objects.create(
                task=task,
                project_id=project.pk,
                author_id=user.pk,
                lease=lease,
                revision=revision,
                result=clean,
                status=initial_annotation_status(project, kind),
                instructions_version=project.instructions_version or None,
                active_seconds=active,
                submitted_at=now,
            )
            Lease.objects.filter(pk=lease.pk).update(
                state=LeaseState.SUBMITTED, ended_at=now, active_seconds=active, last_seen_at=now
            )
            WorkSlot.objects.filter(pk=lease.slot_id).update(
                state=SlotState.DONE, lease_expires_at=None
            )
            task.annotations_count += 1
            changes = task_after_submission(
                task=task, project=project, annotation=annotation, now=now, kind=kind
            )
            if task.status == TaskStatus.COMPLETED:
                changes = None  # already final (the row is locked): it is completed exactly once
            # One UPDATE counts the annotation and, when the pipeline says so, moves the task on.
            Task.objects.filter(pk=task.pk).update(
                annotations_count=F("annotations_count") + 1, **(changes or {})
            )
            for name, value in (changes or {}).items():
                setattr(task, name, value)
            completed = bool(changes) and task.status == TaskStatus.COMPLETED
            _start_reserved_leases(lease, now)
            announce = completed and customer_has_webhooks(project.customer_id)
            # The project row is every submit's hot spot: update it last, just before the commit.
            Project.objects.filter(pk=project.pk).update(
                annotations_total=F("annotations_total") + 1,
                tasks_completed=F("tasks_completed") + (1 if completed else 0),
            )
            if announce:
                task_completed_announce(task=task, project=project)
            annotation.task = task
            return annotation
    except LeaseExpired:
        _expire_if_due(lease_id, user, now)
        raise


def validated_result(project: Project, task: Task, result: Any) -> dict[str, Any]:
    """Return `result` normalised for the project's schema and the task, or raise ValidationFailed."""
    return result_validated(label_schema_of(project), task.data, result)


def result_validated(schema: LabelSchema, data: dict[str, Any], result: Any) -> dict[str, Any]:
    """`validated_result` for a schema and task data already at hand."""
    try:
        return validate_result(result, schema=schema, data=data)
    except SchemaError as exc:
        first, message = next(iter(exc.errors.items()))
        raise ValidationFailed(
            f"{first}: {message}", fields={k: [v] for k, v in exc.errors.items()}
        ) from None


def _start_reserved_leases(finished: Lease, now: datetime, *, newer_only: bool = False) -> None:
    """The person moves on to the task held in reserve: its active time starts now, not at its claim.

    `newer_only`: only leases claimed after `finished` (releasing the task held in reserve must
    not restart the clock of the task being worked on)."""
    leases = Lease.objects.filter(
        user_id=finished.user_id, project_id=finished.project_id, state=LeaseState.ACTIVE
    ).exclude(pk=finished.pk)
    if newer_only:
        leases = leases.filter(pk__gt=finished.pk)  # ids grow with claims
    leases.update(last_seen_at=now)


def _expire_if_due(lease_id: int, user: User, now: datetime) -> None:
    """Record an expiry found by a refused call: end the lease and return its slot to the queue."""
    with transaction.atomic():
        lease = Lease.objects.select_for_update().filter(pk=lease_id, user_id=user.pk).first()
        if lease is not None and lease.state == LeaseState.ACTIVE and lease.expires_at <= now:
            _lease_end(lease, state=LeaseState.EXPIRED, now=now, forget_holder=True)


def lease_skip(
    *, lease_id: int, user: User, reason: str = "", now: datetime | None = None
) -> Lease:
    """Give the task back and never be offered it again; the slot returns to the queue for others."""
    now = now or timezone.now()
    if len(reason) > 500:
        raise ValidationFailed(
            "reason: At most 500 characters.", fields={"reason": ["At most 500 characters."]}
        )
    try:
        with transaction.atomic():
            lease = _lease_for_update(lease_id, user)
            _ensure_live(lease, now)
            project = Project.objects.get(pk=lease.project_id)
            lease.active_seconds += _active_increment(lease, project, now)
            lease.skip_reason = reason.strip()
            lease.save(update_fields=["active_seconds", "skip_reason"])
            rework = _is_rework(lease)
            _lease_end(
                lease, state=LeaseState.SKIPPED, now=now, forget_holder=False, reopen=not rework
            )
            if rework:
                from labeling.services.review import rework_give_up

                rework_give_up(lease=lease)
            _start_reserved_leases(lease, now)
            return lease
    except LeaseExpired:
        _expire_if_due(lease_id, user, now)
        raise


def lease_release(*, lease_id: int, user: User, now: datetime | None = None) -> Lease:
    """Give the task back at once (e.g. leaving the page); it may be offered to this person again."""
    now = now or timezone.now()
    with transaction.atomic():
        lease = _lease_for_update(lease_id, user)
        if lease.state != LeaseState.ACTIVE:
            return lease  # releasing twice, or after expiry, changes nothing
        project = Project.objects.get(pk=lease.project_id)
        lease.active_seconds += _active_increment(lease, project, now)
        lease.save(update_fields=["active_seconds"])
        _lease_end(lease, state=LeaseState.RELEASED, now=now, forget_holder=True)
        _start_reserved_leases(lease, now, newer_only=True)
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
                _expire_lease_of_slot(slot_id, now)
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
