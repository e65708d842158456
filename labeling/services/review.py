"""The review hierarchy: routing work to review levels, verdicts, and rework.

A project lists review levels 1..K, each with a sampling rate by the author's standing. Level 1
samples new work; level k > 1 samples the decisions that passed level k-1 (an audit, which also
measures the lower reviewers: the next verdict sets their review's `upheld`). Rework always goes
back through level 1. Review work uses the same slots and leases as annotation: a review slot has
kind `review` and its level; a rework slot is reserved for the author by `assignee`.

Lock order: the person's project state (claims), then lease, then task, as in `queue`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import user_roles
from core.audit import audit_record
from core.errors import Conflict, NotFound, ValidationFailed
from kit.scoring import score
from labeling.errors import LeaseExpired, NotQualified
from labeling.events import (
    SCORED_BY_REVIEW,
    review_overruled_send,
    work_scored_send,
    work_submitted_send,
)
from labeling.models import (
    Annotation,
    AnnotationStatus,
    Lease,
    LeaseState,
    Pipeline,
    Project,
    RejectReason,
    Review,
    SlotKind,
    SlotState,
    Task,
    TaskStatus,
    Verdict,
    WorkerProjectState,
    WorkSlot,
)
from labeling.queue_order import slot_order_keys
from labeling.services.claim import slot_claim_of_kind
from labeling.services.claimed import Claim
from labeling.services.leases import (
    active_increment,
    lease_ensure_live,
    lease_expire_if_due,
    lease_hand_in,
    lease_lock,
    lease_open,
    lease_resume,
    slot_lease_expire,
    worker_state_count_claim,
    worker_state_get_for_update,
)
from labeling.services.results import task_result_clean
from labeling.services.standing import suspension_in_force
from labeling.services.tallies import project_tally_add
from labeling.services.task_state import (
    annotate_slot_add,
    slot_open,
    task_final_announce,
    task_final_values,
)
from workforce.models import WORKING_STATUSES, AnnotatorProfile, NotificationKind, Standing
from workforce.selectors import standing_from, standing_of, worker_eligibility
from workforce.services.notifications import notify

# Tests seed this for reproducible sampling; production draws from the OS.
sampler = random.Random()  # noqa: S311 - statistical sampling, not a secret

LIVE_WORK = (AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED)
_NOT_WORKING = ("suspended", "offboarded")


def review_levels_of(project: Project) -> list[dict[str, Any]]:
    """The project's review levels in order: [{"level": 1, "rates": {standing: share}}, ...]."""
    return sorted(project.review_levels or [], key=lambda level: int(level["level"]))


def review_rate(project: Project, level: int, standing: str) -> float:
    for spec in review_levels_of(project):
        if int(spec["level"]) == level:
            return float(spec.get("rates", {}).get(standing, 1.0))
    return 0.0


def _sampled(project: Project, level: int, standing: str) -> bool:
    rate = review_rate(project, level, standing)
    return rate >= 1.0 or (rate > 0 and sampler.random() < rate)


def review_slot_open(*, task: Task, project: Project, level: int) -> WorkSlot:
    """Put the task in the level's review queue (higher-priority tasks first, then oldest)."""
    return slot_open(task=task, project=project, kind=SlotKind.REVIEW, level=level)


def review_route_work(
    *, task: Task, project: Project, annotation: Annotation, now: datetime, is_rework: bool
) -> dict[str, Any]:
    """Send new standard-pipeline work to level-1 review (sampled; rework always), or finish it.

    Call in the submit transaction with the task locked; returns the task's new values.
    """
    if review_levels_of(project) and (
        is_rework or _sampled(project, 1, standing_of(user=annotation.author))
    ):
        review_slot_open(task=task, project=project, level=1)
        return {"status": TaskStatus.IN_REVIEW, "review_level": 0}
    if annotation.status != AnnotationStatus.ACCEPTED:
        Annotation.objects.filter(pk=annotation.pk).update(status=AnnotationStatus.ACCEPTED)
        annotation.status = AnnotationStatus.ACCEPTED
    return task_final_values(now, result=annotation.result)


def review_route_aggregate(
    *, task: Task, project: Project, annotations: list[Annotation], unresolved: bool
) -> bool:
    """Send a consensus aggregate to level-1 review when unresolved, or sampled by the least
    trusted author's standing; return whether it went to review."""
    if not unresolved:
        if not review_levels_of(project):
            return False
        standings = {
            standing_from(status, trusted)
            for status, trusted in AnnotatorProfile.objects.filter(
                user_id__in=[a.author_id for a in annotations]
            ).values_list("status", "is_trusted")
        }
        if len(standings) < len({a.author_id for a in annotations}):
            standings.add(Standing.PROBATION)  # someone without a profile: check them fully
        order = [Standing.PROBATION, Standing.REGULAR, Standing.TRUSTED]
        weakest = min(standings, key=order.index) if standings else Standing.PROBATION
        if not _sampled(project, 1, weakest):
            return False
    review_slot_open(task=task, project=project, level=1)
    return True


def reviewer_level_of(user: Any) -> int:
    """The highest review level `user` holds (0: not a reviewer)."""
    return int(user_roles(user).get(Role.REVIEWER) or 0)


def review_claim_next(
    *, project: Project, user: User, now: datetime | None = None, prefetch: bool = False
) -> Any:
    """Lease the next review of `project` at a level this reviewer holds (highest levels first).

    Never the reviewer's own work, nor a task they annotated or reviewed before. Raises
    NotQualified or NoWorkAvailable like `slot_claim_next`.
    """
    level = reviewer_level_of(user)
    if level < 1:
        raise NotQualified("Only reviewers take review work.")
    status = (
        AnnotatorProfile.objects.filter(user_id=user.pk).values_list("status", flat=True).first()
    )
    if status in _NOT_WORKING:
        raise NotQualified(f"Your account is {status}; it takes no work now.")
    return slot_claim_of_kind(
        project=project,
        user=user,
        now=now or timezone.now(),
        prefetch=prefetch,
        kind=SlotKind.REVIEW,
        max_level=level,
    )


def current_work(task: Task, project: Project) -> Annotation | None:
    """The work a review judges: the newest live annotation (a correction counts), or None for a
    consensus aggregate that nobody corrected."""
    if project.pipeline == Pipeline.CONSENSUS:
        return _corrected_aggregate(task)
    return (
        Annotation.objects.filter(task_id=task.pk, status__in=LIVE_WORK)
        .select_related("author")
        .order_by("-pk")
        .first()
    )


def _first_author_standing(task: Task, project: Project) -> str:
    # Every level samples by the standing of the person whose work started the chain.
    if project.pipeline == Pipeline.CONSENSUS:
        return Standing.REGULAR
    author = (
        Annotation.objects.filter(task_id=task.pk, corrects__isnull=True)
        .order_by("-pk")
        .values_list("author_id", flat=True)
        .first()
    )
    return standing_of(user=User(pk=author)) if author else Standing.PROBATION


def _corrected_aggregate(task: Task) -> Annotation | None:
    # A consensus correction without `corrects` (the aggregate has no row) is marked by its review.
    review = (
        Review.objects.filter(task_id=task.pk, correction__isnull=False)
        .select_related("correction")
        .order_by("-pk")
        .first()
    )
    return review.correction if review else None


def _upheld_previous(task: Task, level: int, verdict: str, *, by_review: Review) -> None:
    if level < 2:
        return
    previous = (
        Review.objects.filter(task_id=task.pk, level=level - 1, upheld__isnull=True)
        .order_by("-pk")
        .values_list("pk", "reviewer_id")
        .first()
    )
    if previous is None:
        return
    # An approval above confirms the decision below; a correction or rejection overrules it.
    upheld = verdict == Verdict.APPROVE
    Review.objects.filter(pk=previous[0]).update(upheld=upheld)
    if not upheld:
        review_overruled_send(
            reviewer_id=previous[1],
            project_id=task.project_id,
            task_id=task.pk,
            review_id=previous[0],
            level=level - 1,
            by_review_id=by_review.pk,
            verdict=verdict,
        )


def _check_verdict(
    project: Project, work: Annotation | None, verdict: str, reason: str, result: Any
) -> None:
    if verdict not in Verdict.values:
        raise ValidationFailed(
            f"verdict: Choose one of {', '.join(Verdict.values)}.",
            fields={"verdict": [f"Choose one of {', '.join(Verdict.values)}."]},
        )
    if verdict == Verdict.REJECT:
        if work is None or project.pipeline == Pipeline.CONSENSUS:
            message = "A consensus result is approved or corrected, not sent back for rework."
            raise ValidationFailed(f"verdict: {message}", fields={"verdict": [message]})
        if reason not in RejectReason.values:
            message = f"Give a reason: one of {', '.join(RejectReason.values)}."
            raise ValidationFailed(f"reason: {message}", fields={"reason": [message]})
    if verdict == Verdict.CORRECT and result is None:
        message = "A correction needs the corrected result."
        raise ValidationFailed(f"result: {message}", fields={"result": [message]})


def review_submit(
    *,
    lease_id: int,
    user: User,
    verdict: str,
    result: Any = None,
    reason: str = "",
    comment: str = "",
    now: datetime | None = None,
) -> Review:
    """Record a reviewer's verdict on their leased review and move the task on.

    approve: the work passes this level (and may be sampled for the next one, else it is final).
    correct: `result` becomes a new revision attributed to the reviewer; the original is kept,
    marked corrected and scored against the correction; then as approve. reject (standard only,
    with a reason): the author gets it back for rework, or after `max_reworks` someone else does.
    Raises LeaseExpired, LeaseNotActive, Conflict for a non-review lease, ValidationFailed.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            lease = lease_lock(lease_id, user, with_project=True)
            project = lease.project
            lease_ensure_live(lease, now)
            if lease.slot.kind != SlotKind.REVIEW:
                raise Conflict("This lease is not a review; submit it as an annotation.")
            level = lease.slot.level
            task = Task.objects.select_for_update().get(pk=lease.task_id)
            work = current_work(task, project)
            _check_verdict(project, work, verdict, reason, result)
            clean = task_result_clean(project, task, result) if verdict == Verdict.CORRECT else None
            active = lease.active_seconds + active_increment(lease, project, now)
            review = Review.objects.create(
                task=task,
                project_id=project.pk,
                annotation=work,
                author_id=work.author_id if work else None,
                reviewer=user,
                lease=lease,
                level=level,
                verdict=verdict,
                reason=reason if verdict == Verdict.REJECT else "",
                comment=comment.strip(),
                active_seconds=active,
                created_at=now,
            )
            lease_hand_in(lease, now=now, active_seconds=active)
            work_submitted_send(
                user_id=user.pk,
                project_id=project.pk,
                task_id=task.pk,
                annotation_id=review.correction_id,
                review_id=review.pk,
                review_level=level,
                kind=SlotKind.REVIEW,
                active_seconds=active,
                submitted_at=now,
            )
            _upheld_previous(task, level, verdict, by_review=review)
            if verdict == Verdict.REJECT and work is not None:  # _check_verdict ensured work
                changes = _send_back(task=task, project=project, work=work, reason=reason)
            else:
                changes = _pass_level(
                    task=task, project=project, work=work, review=review, clean=clean, now=now
                )
            Task.objects.filter(pk=task.pk).update(**changes)
            for name, value in changes.items():
                setattr(task, name, value)
            completed = task.status == TaskStatus.COMPLETED
            audit_record(
                actor=user,
                action=f"review.{verdict}",
                target=task,
                after={
                    "level": level,
                    "annotation_id": work.pk if work else None,
                    "reason": review.reason,
                    "comment": review.comment,
                    "correction_id": review.correction_id,
                    "task_status": task.status,
                },
            )
            _finish_counters(task=task, project=project, completed=completed, user=user)
            if work is not None:
                work_scored_send(
                    user_id=work.author_id,
                    project_id=project.pk,
                    task_id=task.pk,
                    annotation_id=work.pk,
                    source=SCORED_BY_REVIEW,
                    verdict=verdict,
                    review_id=review.pk,
                )
            return review
    except LeaseExpired:
        lease_expire_if_due(lease_id, user, now)
        raise


def _finish_counters(*, task: Task, project: Project, completed: bool, user: User) -> None:
    if not completed:
        return
    project_tally_add(project_id=project.pk, user_id=user.pk, completed=1)
    task_final_announce(task=task, project=project)


def _pass_level(
    *,
    task: Task,
    project: Project,
    work: Annotation | None,
    review: Review,
    clean: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    current = work.result if work is not None else task.result
    if clean is not None:
        latest = Annotation.objects.filter(task_id=task.pk, author_id=review.reviewer_id).aggregate(
            latest=Max("revision")
        )["latest"]
        correction = Annotation.objects.create(
            task=task,
            project_id=project.pk,
            author_id=review.reviewer_id,
            revision=(latest or 0) + 1,
            corrects=work,
            result=clean,
            status=AnnotationStatus.SUBMITTED,
            instructions_version=project.instructions_version or None,
            active_seconds=review.active_seconds,
            submitted_at=now,
        )
        review.correction = correction
        review.correction_score = (
            score(project.task_type, current, clean).value if current is not None else 0.0
        )
        review.save(update_fields=["correction", "correction_score"])
        if work is not None:
            Annotation.objects.filter(pk=work.pk).update(status=AnnotationStatus.CORRECTED)
        work, current = correction, clean
    next_level = review.level + 1
    standing = _first_author_standing(task, project)
    if next_level <= len(review_levels_of(project)) and _sampled(project, next_level, standing):
        review_slot_open(task=task, project=project, level=next_level)
        return {"status": TaskStatus.IN_REVIEW, "review_level": review.level, "result": current}
    if work is not None:
        Annotation.objects.filter(pk=work.pk).update(status=AnnotationStatus.ACCEPTED)
    final = task_final_values(
        now,
        result=current,
        agreement=task.agreement,
        is_tie=task.is_tie and clean is None,
        confidence=task.confidence if clean is None else 1.0,
    )
    return {**final, "review_level": review.level}


def _send_back(*, task: Task, project: Project, work: Annotation, reason: str) -> dict[str, Any]:
    Annotation.objects.filter(pk=work.pk).update(status=AnnotationStatus.REJECTED)
    rejections = Review.objects.filter(
        task_id=task.pk, author_id=work.author_id, verdict=Verdict.REJECT
    ).count()
    if rejections <= project.max_reworks:
        (order_key,) = slot_order_keys(order=project.queue_order, task_id=task.pk)
        WorkSlot.objects.create(
            project_id=project.pk,
            task_id=task.pk,
            kind=SlotKind.REWORK,
            level=0,
            priority=task.priority,
            order_key=order_key,
            assignee_id=work.author_id,
        )
        notify(
            user=work.author,
            kind=NotificationKind.REWORK_RETURNED,
            title=f"A reviewer sent back your work in {project.name}",
            body=f"Reason: {RejectReason(reason).label}. Fix it from your work history.",
            url=reverse("work:history") + "#h-rework",
        )
    else:
        _reassign(task=task, project=project)
    return {"status": TaskStatus.OPEN, "review_level": 0, "result": None}


def _reassign(*, task: Task, project: Project) -> None:
    # Everyone who touched the task keeps their participation, so a fresh pair of hands takes it.
    annotate_slot_add(task=task, project=project)


def rework_give_up(*, lease: Lease) -> None:
    """The author skipped their rework: the task goes to someone else. Call with the lease locked."""
    _rework_hand_over(WorkSlot.objects.select_for_update().get(pk=lease.slot_id))


def _rework_hand_over(slot: WorkSlot) -> None:
    """Cancel a rework slot (locked by the caller) and ask someone else for the task."""
    WorkSlot.objects.filter(pk=slot.pk).update(state=SlotState.CANCELLED, lease_expires_at=None)
    project = Project.objects.get(pk=slot.project_id)
    _reassign(task=Task(pk=slot.task_id, priority=slot.priority), project=project)


def rework_author_may_work(*, user_id: int, project_id: int, now: datetime) -> bool:
    """Whether the author of a rework may still do it: an active account, a working annotator
    status, and no quality-rule suspension from the project in force."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return False
    if worker_eligibility(user=user, skill_id=None, min_level=0) is not None:
        return False
    return not WorkerProjectState.objects.filter(
        suspension_in_force(now), user_id=user_id, project_id=project_id
    ).exists()


def reworks_reassign_orphaned(*, now: datetime | None = None) -> int:
    """Give every waiting rework whose author may no longer work (deactivated, erased, suspended,
    offboarded, or suspended from the project by a quality rule) to someone else, as
    `rework_give_up` does; return how many. A rework being worked on waits for its lease to end.

    Locks one rework slot at a time and checks its author again under the lock; repeating it
    changes nothing."""
    now = now or timezone.now()
    working = AnnotatorProfile.objects.filter(
        user_id=OuterRef("assignee_id"), status__in=WORKING_STATUSES
    )
    suspended = WorkerProjectState.objects.filter(
        user_id=OuterRef("assignee_id"), project_id=OuterRef("project_id"), is_suspended=True
    )
    # Only a narrowing: `rework_author_may_work` decides, slot by slot.
    maybe_orphaned = (
        WorkSlot.objects.filter(kind=SlotKind.REWORK, state=SlotState.OPEN)
        .filter(Q(assignee__is_active=False) | ~Exists(working) | Exists(suspended))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(_rework_reassign_if_orphaned(slot_id, now) for slot_id in list(maybe_orphaned))


@transaction.atomic
def _rework_reassign_if_orphaned(slot_id: int, now: datetime) -> bool:
    slot = (
        WorkSlot.objects.select_for_update()
        .filter(pk=slot_id, kind=SlotKind.REWORK, state=SlotState.OPEN)
        .first()
    )
    if slot is None or slot.assignee_id is None:
        return False  # claimed, done or handed over meanwhile
    if rework_author_may_work(user_id=slot.assignee_id, project_id=slot.project_id, now=now):
        return False
    _rework_hand_over(slot)
    audit_record(
        actor=None,
        action="rework.reassigned",
        target=slot,
        before={"assignee": slot.assignee_id, "state": SlotState.OPEN.value},
        after={"state": SlotState.CANCELLED.value, "reason": "the author may no longer work"},
    )
    return True


def rework_claim(*, slot_id: int, user: User, now: datetime | None = None) -> Any:
    """Lease a piece of the person's own rejected work back to them (from their rework list)."""
    now = now or timezone.now()
    with transaction.atomic():
        slot = (
            WorkSlot.objects.select_related("project")
            .filter(pk=slot_id, kind=SlotKind.REWORK, assignee_id=user.pk)
            .first()
        )
        if slot is None:
            raise NotFound("There is no such rework of yours.")
        if not rework_author_may_work(user_id=user.pk, project_id=slot.project_id, now=now):
            raise NotQualified("You may not work in this project now; someone else will do this.")
        state = worker_state_get_for_update(user_id=user.pk, project_id=slot.project_id)
        slot = WorkSlot.objects.select_for_update().select_related("project").get(pk=slot.pk)
        project = slot.project
        held = (
            Lease.objects.filter(slot_id=slot.pk, state=LeaseState.ACTIVE, expires_at__gt=now)
            .select_related("task", "project")
            .first()
        )
        if held is not None:
            return Claim(lease=lease_resume(held, now), resumed=True)
        if slot.state == SlotState.LEASED:
            slot_lease_expire(slot.pk, now)
        elif slot.state != SlotState.OPEN:
            raise Conflict("This rework was already done or handed to someone else.")
        expires_at = now + timedelta(seconds=project.lease_seconds)
        WorkSlot.objects.filter(pk=slot.pk).update(
            state=SlotState.LEASED, lease_expires_at=expires_at
        )
        worker_state_count_claim(state, gold=False, now=now, counted=False)
        lease = lease_open(
            slot_id=slot.pk,
            task=Task.objects.only("id", "project_id", "data", "pre_annotation").get(
                pk=slot.task_id
            ),
            project=project,
            user=user,
            now=now,
            expires_at=expires_at,
            participate=False,  # the author keeps their place on the task throughout
        )
        return Claim(lease=lease, resumed=False)
