"""Reads of holds: why an earning must wait instead of becoming payable, and finance's lists."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from payments.models import Hold, HoldCause, TaskDispute
from quality.models import Appeal, AppealStatus, RuleAction
from quality.selectors import rule_actions_visible_to
from quality.wording import rule_condition
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


def _suspended(user: Any) -> QuerySet[Any]:
    return AnnotatorProfile.objects.filter(user_id=user, status=AnnotatorStatus.SUSPENDED)


def _appealing(user: Any) -> QuerySet[Any]:
    return Appeal.objects.filter(author_id=user, status=AppealStatus.PENDING)


def _open_disputes(task: Any) -> QuerySet[Any]:
    return TaskDispute.objects.filter(task_id=task, closed_at__isnull=True).order_by()


def with_hold_causes(earnings: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate each earning of `earnings` with what would hold it now, in the same query:
    `person_suspended`, `person_appealing` and `dispute_reason` (None: no open dispute)."""
    return earnings.annotate(
        person_suspended=Exists(_suspended(OuterRef("user_id"))),
        person_appealing=Exists(_appealing(OuterRef("user_id"))),
        dispute_reason=Subquery(_open_disputes(OuterRef("task_id")).values("reason")[:1]),
    )


def hold_cause_reads(*, user_id: int, task_id: int) -> tuple[QuerySet[Any], ...]:
    """The three reads of `with_hold_causes` for work of `user_id` on `task_id` that has no
    earning yet (a statement compiles them): a suspension, an open appeal (rows: whether there
    is one) and the task's open dispute (its reason, one row at most)."""
    return (
        _suspended(user_id).values("pk"),
        _appealing(user_id).values("pk"),
        _open_disputes(task_id).values("reason")[:1],
    )


def hold_cause_from(
    *,
    user_id: int,
    task_id: int | None,
    suspended: bool,
    appealing: bool,
    dispute_reason: str | None,
) -> tuple[str, str] | None:
    """(cause, detail) holding work of `user_id` on `task_id` given what the three reads found,
    or None (`HoldCauses.cause_of`'s order)."""
    causes = HoldCauses(
        suspended=frozenset({user_id} if suspended else ()),
        appealing=frozenset({user_id} if appealing else ()),
        disputed={task_id: dispute_reason}
        if dispute_reason is not None and task_id is not None
        else {},
    )
    return causes.cause_of(user_id=user_id, task_id=task_id)


def hold_cause_of(earning: Any) -> tuple[str, str] | None:
    """(cause, detail) holding an earning annotated by `with_hold_causes`, or None. A suspension
    comes first, then an appeal, then a dispute."""
    return hold_cause_from(
        user_id=earning.user_id,
        task_id=earning.task_id,
        suspended=earning.person_suspended,
        appealing=earning.person_appealing,
        dispute_reason=earning.dispute_reason,
    )


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
        "earning", "earning__user", "earning__project", "resolved_by", "rule_action__rule"
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


@dataclass(frozen=True)
class HoldEvidence:
    """The quality rule action behind a discounted hold, as finance and the person read it."""

    action_id: int
    rule_name: str
    condition: str
    metric_value: float
    sample_size: int
    action: str
    state: str
    taken_at: datetime
    discounted: int  # how much of the person's work the action discarded


def hold_evidence(hold: Hold) -> HoldEvidence | None:
    """What discarded the work of a discounted hold: the rule as it was when it fired (the
    action's own evidence), its condition and the value it measured over how many items, and
    the action's state now (an upheld appeal shows as reversed); None without a rule action.
    Reads nothing when the hold came with `rule_action__rule` (as `holds_list` gives it)."""
    action: RuleAction | None = hold.rule_action
    return None if action is None else rule_action_evidence(action)


def rule_action_evidence(action: RuleAction) -> HoldEvidence:
    """A rule action's evidence in words, from the rule as it was when it fired (with `rule`)."""
    rule = (action.evidence or {}).get("rule") or action.rule
    name = rule.get("name") if isinstance(rule, dict) else rule.name
    return HoldEvidence(
        action_id=action.pk,
        rule_name=name or action.rule.name,
        condition=rule_condition(rule),
        metric_value=action.metric_value,
        sample_size=action.sample_size,
        action=action.get_kind_display(),
        state=action.get_state_display(),
        taken_at=action.taken_at,
        discounted=len((action.evidence or {}).get("discounted_annotation_ids", [])),
    )


def rule_actions_openable_by(viewer: Any, holds: Iterable[Hold]) -> set[int]:
    """The rule actions of `holds` that `viewer` may open on the Quality pages (one query)."""
    ids = {hold.rule_action_id for hold in holds if hold.rule_action_id is not None}
    if not ids:
        return set()
    return set(rule_actions_visible_to(viewer).filter(pk__in=ids).values_list("pk", flat=True))


def holds_open_of(*, user_id: int) -> QuerySet[Hold]:
    """The person's open holds, newest first, with their earning, project and evidence."""
    return (
        Hold.objects.filter(earning__user_id=user_id, resolved_at__isnull=True)
        .select_related("earning", "earning__project", "rule_action__rule")
        .order_by("-created_at", "-pk")
    )


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
