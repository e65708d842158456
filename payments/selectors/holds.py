"""Reads of holds: why an earning must wait instead of becoming payable, and finance's lists."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from payments.models import Hold, HoldCause, TaskDispute
from quality.models import Appeal, AppealStatus
from workforce.models import AnnotatorProfile, AnnotatorStatus


@dataclass(frozen=True)
class HoldCauses:
    """Who and what is held now: suspended people, people with an open appeal, disputed tasks."""

    suspended: frozenset[int]
    appealing: frozenset[int]
    disputed: dict[int, str]  # task id -> the dispute's reason

    def cause_of(self, *, user_id: int, task_id: int | None) -> tuple[str, str] | None:
        """(cause, detail) holding an earning of `user_id` on `task_id`, or None. A suspension
        comes first, then an appeal, then a dispute."""
        if user_id in self.suspended:
            return HoldCause.SUSPENDED, "The person was suspended when the work became final."
        if user_id in self.appealing:
            return HoldCause.APPEAL, "The person had an open appeal when the work became final."
        if task_id is not None and task_id in self.disputed:
            return HoldCause.DISPUTE, f"Task {task_id} is under dispute: {self.disputed[task_id]}"
        return None


def with_hold_causes(earnings: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate each earning of `earnings` with what would hold it now, in the same query:
    `person_suspended`, `person_appealing` and `dispute_reason` (None: no open dispute)."""
    return earnings.annotate(
        person_suspended=Exists(
            AnnotatorProfile.objects.filter(
                user_id=OuterRef("user_id"), status=AnnotatorStatus.SUSPENDED
            )
        ),
        person_appealing=Exists(
            Appeal.objects.filter(author_id=OuterRef("user_id"), status=AppealStatus.PENDING)
        ),
        dispute_reason=Subquery(
            TaskDispute.objects.filter(task_id=OuterRef("task_id"), closed_at__isnull=True)
            .order_by()
            .values("reason")[:1]
        ),
    )


def hold_cause_of(earning: Any) -> tuple[str, str] | None:
    """(cause, detail) holding an earning annotated by `with_hold_causes`, or None. A suspension
    comes first, then an appeal, then a dispute."""
    causes = HoldCauses(
        suspended=frozenset({earning.user_id} if earning.person_suspended else ()),
        appealing=frozenset({earning.user_id} if earning.person_appealing else ()),
        disputed={earning.task_id: earning.dispute_reason}
        if earning.dispute_reason is not None
        else {},
    )
    return causes.cause_of(user_id=earning.user_id, task_id=earning.task_id)


def hold_causes_for(*, user_ids: Collection[int], task_ids: Collection[int]) -> HoldCauses:
    """What holds earnings of these people on these tasks now (three indexed queries)."""
    users = sorted(set(user_ids))
    tasks = sorted({task for task in task_ids if task is not None})
    suspended = AnnotatorProfile.objects.filter(
        user_id__in=users, status=AnnotatorStatus.SUSPENDED
    ).values_list("user_id", flat=True)
    appealing = Appeal.objects.filter(author_id__in=users, status=AppealStatus.PENDING).values_list(
        "author_id", flat=True
    )
    disputed = (
        dict(
            TaskDispute.objects.filter(task_id__in=tasks, closed_at__isnull=True).values_list(
                "task_id", "reason"
            )
        )
        if tasks
        else {}
    )
    return HoldCauses(frozenset(suspended), frozenset(appealing), disputed)


def holds_list(
    *,
    is_open: bool | None = True,
    cause: str = "",
    user_id: int | None = None,
    project_id: int | None = None,
) -> QuerySet[Hold]:
    """Holds for finance, newest first, with their earning, person and project; filtered by open
    or resolved (None: both), cause, person and project."""
    holds = Hold.objects.select_related(
        "earning", "earning__user", "earning__project", "resolved_by"
    )
    if is_open is not None:
        holds = holds.filter(resolved_at__isnull=is_open)
    if cause:
        holds = holds.filter(cause=cause)
    if user_id is not None:
        holds = holds.filter(earning__user_id=user_id)
    if project_id is not None:
        holds = holds.filter(earning__project_id=project_id)
    return holds.order_by("-created_at", "-pk")


def hold_get(*, pk: int) -> Hold:
    """One hold with its earning (Hold.DoesNotExist when there is none)."""
    return Hold.objects.select_related("earning", "earning__user", "earning__project").get(pk=pk)


def hold_get_for_update(*, pk: int) -> Hold:
    """Lock and return one hold (Hold.DoesNotExist when there is none)."""
    return Hold.objects.select_for_update().get(pk=pk)


def disputes_open() -> QuerySet[TaskDispute]:
    """Open disputes of tasks, newest first."""
    return TaskDispute.objects.filter(closed_at__isnull=True).select_related("project", "opened_by")


def dispute_open_of(*, task_id: int) -> TaskDispute | None:
    return TaskDispute.objects.filter(Q(task_id=task_id), closed_at__isnull=True).first()


def users_of_holds(holds: QuerySet[Hold]) -> list[Any]:
    """The people who have holds among `holds`, for a filter's choices."""
    return sorted({hold.earning.user for hold in holds}, key=lambda user: user.pk)


def payout_holds_of(user_ids: Collection[int], currency: str) -> dict[int, str]:
    """The people among `user_ids` whom a payout run leaves out because of holds: an open hold
    on an earning of theirs in `currency`, or, whatever they hold, a suspension or an open
    appeal now (hold_causes_for's rule). Registered with payout runs' hold checks."""
    held: dict[int, str] = {}
    open_holds = (
        Hold.objects.filter(
            resolution="", earning__user_id__in=list(user_ids), earning__currency=currency
        )
        .values_list("earning__user_id", "cause")
        .order_by("earning__user_id", "pk")
    )
    for user_id, cause in open_holds:
        held.setdefault(
            user_id, f"earnings held ({HoldCause(cause).label.lower()}) until finance decides"
        )
    causes = hold_causes_for(user_ids=user_ids, task_ids=())
    for user_id in user_ids:
        if user_id in causes.suspended:
            held.setdefault(user_id, "suspended")
        elif user_id in causes.appealing:
            held.setdefault(user_id, "an appeal is open")
    return held
