"""What happens after a submission, per pipeline: when a task becomes final and with which label.

Standard: one accepted annotation makes the task ready for review; until the review hierarchy
exists, ready means final. Consensus: when the overlap is reached, the annotations are aggregated
(majority vote; ties are reported as ties). Collection: each submission is its own result; the task
is done when it has collected `overlap` of them. Better aggregation and dynamic overlap plug in at
`CONSENSUS_AGGREGATE` and `consensus_needs_more`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from labeling.aggregation import Aggregate, aggregate
from labeling.models import (
    Annotation,
    AnnotationStatus,
    Pipeline,
    Project,
    Task,
    TaskStatus,
    WebhookEndpoint,
)

CONSENSUS_AGGREGATE: Callable[[str, Sequence[dict[str, Any]]], Aggregate] = aggregate


def consensus_needs_more(*, project: Project, task: Task, outcome: Aggregate) -> bool:
    """Whether a consensus task should get another annotation before it is final (fixed overlap: never)."""
    return False


def initial_annotation_status(project: Project) -> str:
    """Standard and collection accept a valid submission at once; consensus waits for the vote."""
    if project.pipeline == Pipeline.CONSENSUS:
        return AnnotationStatus.SUBMITTED
    return AnnotationStatus.ACCEPTED


def task_after_submission(
    *, task: Task, project: Project, annotation: Annotation, now: datetime
) -> dict[str, Any] | None:
    """Decide, inside the submit transaction (task row locked), whether `task` is now final.

    `task.annotations_count` already counts this submission. Return the task's final values
    (status, completed_at, result, agreement, is_tie) for the caller to write in the same UPDATE
    that counts the annotation, or None while the task needs more work.
    """
    if project.pipeline == Pipeline.STANDARD:
        return _final(now, result=annotation.result)
    if project.pipeline == Pipeline.COLLECTION:
        return _final(now, result=None) if task.annotations_count >= project.overlap else None
    if task.annotations_count < project.overlap:
        return None
    results = list(
        Annotation.objects.filter(task_id=task.pk).order_by("pk").values_list("result", flat=True)
    )
    outcome = CONSENSUS_AGGREGATE(project.task_type, results)
    if consensus_needs_more(project=project, task=task, outcome=outcome):
        return None
    Annotation.objects.filter(task_id=task.pk).update(status=AnnotationStatus.ACCEPTED)
    return _final(now, result=outcome.result, agreement=outcome.agreement, is_tie=outcome.is_tie)


def _final(
    now: datetime, *, result: Any, agreement: float | None = None, is_tie: bool = False
) -> dict[str, Any]:
    return {
        "status": TaskStatus.COMPLETED,
        "completed_at": now,
        "result": result,
        "agreement": agreement,
        "is_tie": is_tie,
    }


def customer_has_webhooks(customer_id: int) -> bool:
    return WebhookEndpoint.objects.filter(customer_id=customer_id, is_active=True).exists()


def task_completed_announce(*, task: Task, project: Project) -> None:
    """Tell the customer's webhooks that `task` (and maybe the whole project) is final.

    Call it in the transaction that completed the task, after the project's counters moved, when
    `customer_has_webhooks`; the deliveries are created with it and sent after it commits.
    """
    from labeling.services.webhooks import webhooks_emit

    webhooks_emit(
        customer_id=project.customer_id,
        event="task.completed",
        payload={
            "project_id": project.pk,
            "task_id": task.pk,
            "external_id": task.external_id,
            "result": task.result,
            "agreement": task.agreement,
            "is_tie": task.is_tie,
            "completed_at": task.completed_at.isoformat() if task.completed_at else None,
        },
    )
    progress = (
        Project.objects.filter(pk=project.pk).values("tasks_total", "tasks_completed").first()
    )
    if (
        progress
        and progress["tasks_total"]
        and progress["tasks_completed"] == progress["tasks_total"]
    ):
        webhooks_emit(
            customer_id=project.customer_id,
            event="project.completed",
            payload={"project_id": project.pk, **progress},
        )
