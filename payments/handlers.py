"""payments' handlers of labeling's work events (connected in `PaymentsConfig.ready`).

Each runs inside the transaction that announced the event and calls one earnings service, so pay
commits or rolls back with the work: submitted work accrues, final work becomes payable, rejected
or overruled work is reversed with its reason, discounted work is held for finance with the
quality rule's evidence, and answered training and test items earn when training time is paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from labeling.events import SCORED_BY_GOLD, SCORED_BY_REVIEW
from payments.services.earnings import (
    earning_accrue,
    earning_accrue_check,
    earning_finalise_gold,
    earning_reverse_source,
    earnings_finalise_task,
)
from payments.services.holds import earnings_hold_discounted

REJECT = "reject"


def on_work_submitted(
    sender: Any,
    *,
    user_id: int,
    project_id: int,
    task_id: int,
    annotation_id: int | None,
    kind: str,
    active_seconds: int,
    submitted_at: datetime,
    review_id: int | None = None,
    review_level: int | None = None,
    completes_task: bool = False,
    **_: Any,
) -> None:
    """`work_submitted`: price the work as pending pay (nothing when no rate prices it); when the
    submission made its task final, as payable at once where nothing else waits for the task's
    `work_final`."""
    earning_accrue(
        user_id=user_id,
        project_id=project_id,
        task_id=task_id,
        annotation_id=annotation_id,
        review_id=review_id,
        review_level=review_level,
        kind=kind,
        active_seconds=active_seconds,
        submitted_at=submitted_at,
        completes_task=completes_task,
    )


def on_work_final(
    sender: Any, *, task_id: int, completed_at: datetime | None = None, **_: Any
) -> None:
    """`work_final`: the task's pending earnings become payable (or held)."""
    earnings_finalise_task(task_id=task_id, at=completed_at)


def on_work_scored(
    sender: Any,
    *,
    annotation_id: int,
    source: str,
    verdict: str | None = None,
    review_id: int | None = None,
    **_: Any,
) -> None:
    """`work_scored`: a scored gold answer is payable at once (gold tasks never become final; they
    are paid like any task); a rejection in review reverses the rejected annotation's earning
    (its rework is a new annotation that earns anew)."""
    if source == SCORED_BY_GOLD:
        earning_finalise_gold(annotation_id=annotation_id)
    elif source == SCORED_BY_REVIEW and verdict == REJECT:
        earning_reverse_source(
            annotation_id=annotation_id,
            by_review_id=review_id,
            reason=f"Rejected in review {review_id}" if review_id else "Rejected in review",
        )


def on_review_overruled(
    sender: Any, *, review_id: int, level: int, by_review_id: int, verdict: str, **_: Any
) -> None:
    """`review_overruled`: the lower reviewer's verdict was proven wrong; its earning is reversed."""
    earning_reverse_source(
        review_id=review_id,
        by_review_id=by_review_id,
        reason=f"Overruled at review level {level + 1} ({verdict}, review {by_review_id})",
    )


def on_work_reversed(
    sender: Any,
    *,
    annotation_ids: Sequence[int],
    reason: str,
    rule_action_id: int | None = None,
    **_: Any,
) -> None:
    """`work_reversed`: discounted work's pay is held (pending or payable) with the rule action
    that discarded it, until finance forfeits it (reversed) or releases it."""
    earnings_hold_discounted(
        annotation_ids=annotation_ids, reason=reason, rule_action_id=rule_action_id
    )


def on_check_answered(
    sender: Any,
    *,
    user_id: int,
    project_id: int,
    check_kind: str,
    task_id: int,
    answer_id: int,
    active_seconds: int,
    answered_at: datetime,
    **_: Any,
) -> None:
    """`check_answered`: price the training or test answer (nothing while training time is not
    paid or no training or test rate is in force)."""
    earning_accrue_check(
        user_id=user_id,
        project_id=project_id,
        check_kind=check_kind,
        task_id=task_id,
        answer_id=answer_id,
        active_seconds=active_seconds,
        answered_at=answered_at,
    )
