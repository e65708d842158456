"""A task's state changes that every pipeline step shares: the values that make it final, the
announcement that it is final, and one more annotate slot when it needs more work.

Below `completion` (what a submission leads to) and `review` (what a verdict leads to), which
both use these; it imports neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from labeling.events import work_final_send
from labeling.models import (
    Project,
    SlotKind,
    Task,
    TaskStatus,
    WebhookEndpoint,
    WorkSlot,
    projects_with_counts,
)
from labeling.queue_order import slot_order_keys
from labeling.services.webhooks import webhooks_emit


def task_final_values(
    now: datetime,
    *,
    result: Any,
    agreement: float | None = None,
    is_tie: bool = False,
    confidence: float | None = None,
) -> dict[str, Any]:
    """The values that make a task final, for the caller's UPDATE of the locked task."""
    return {
        "status": TaskStatus.COMPLETED,
        "completed_at": now,
        "result": result,
        "agreement": agreement,
        "is_tie": is_tie,
        "confidence": confidence,
    }


def customer_has_webhooks(customer_id: int) -> bool:
    return WebhookEndpoint.objects.filter(customer_id=customer_id, is_active=True).exists()


def task_final_announce(*, task: Task, project: Project) -> None:
    """Announce that `task` became final: the `work_final` event, and the customer's webhooks
    (the task, and the whole project when it is done).

    Call it in the transaction that completed the task, after the project's counters moved; the
    webhook deliveries are created with it and sent after it commits.
    """
    work_final_send(
        project_id=project.pk,
        task_id=task.pk,
        completed_at=task.completed_at,
    )
    if not customer_has_webhooks(project.customer_id):
        return
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
    counted = projects_with_counts(Project.objects.filter(pk=project.pk)).first()
    if counted is None:
        return
    progress = {"tasks_total": counted.tasks_total, "tasks_completed": counted.tasks_completed}
    if progress["tasks_total"] and progress["tasks_completed"] == progress["tasks_total"]:
        webhooks_emit(
            customer_id=project.customer_id,
            event="project.completed",
            payload={"project_id": project.pk, **progress},
        )


def slot_open(
    *, task: Task, project: Project, kind: str, level: int = 0, order_key: int | None = None
) -> WorkSlot:
    """Ask for one more piece of work on `task`: an open slot of `kind` (review: at `level`) at
    the task's priority, keyed as the project's queue order says (see `labeling.queue_order`)
    unless the caller knows its `order_key` (uncertain-first: from the task's posterior)."""
    if order_key is None:
        (order_key,) = slot_order_keys(order=project.queue_order, task_id=task.pk)
    return WorkSlot.objects.create(
        project_id=project.pk,
        task_id=task.pk,
        kind=kind,
        level=level,
        priority=task.priority,
        order_key=order_key,
    )


def annotate_slot_add(*, task: Task, project: Project, order_key: int | None = None) -> None:
    """Ask for one more annotation of `task` (ahead of tasks not yet started, by the order)."""
    slot_open(task=task, project=project, kind=SlotKind.ANNOTATE, order_key=order_key)
