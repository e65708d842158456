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

from django.db import transaction

from labeling.aggregation import Aggregate, aggregate
from labeling.models import Annotation, AnnotationStatus, Pipeline, Project, Task, TaskStatus

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
) -> bool:
    """Decide, inside the submit transaction (task row locked), whether `task` is now final.

    Return whether it became final; the caller adds it to the project's progress counter.
    """
    if project.pipeline == Pipeline.STANDARD:
        return _task_complete(task=task, project=project, now=now, result=annotation.result)
    if project.pipeline == Pipeline.COLLECTION:
        if task.annotations_count < project.overlap:
            return False
        return _task_complete(task=task, project=project, now=now, result=None)
    if task.annotations_count < project.overlap:
        return False
    results = list(
        Annotation.objects.filter(task_id=task.pk).order_by("pk").values_list("result", flat=True)
    )
    outcome = CONSENSUS_AGGREGATE(project.task_type, results)
    if consensus_needs_more(project=project, task=task, outcome=outcome):
        return False
    Annotation.objects.filter(task_id=task.pk).update(status=AnnotationStatus.ACCEPTED)
    return _task_complete(
        task=task,
        project=project,
        now=now,
        result=outcome.result,
        agreement=outcome.agreement,
        is_tie=outcome.is_tie,
    )


def _task_complete(
    *,
    task: Task,
    project: Project,
    now: datetime,
    result: Any,
    agreement: float | None = None,
    is_tie: bool = False,
) -> bool:
    changed = Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
        status=TaskStatus.COMPLETED,
        completed_at=now,
        result=result,
        agreement=agreement,
        is_tie=is_tie,
    )
    if changed != 1:
        return False
    task.status, task.completed_at, task.result, task.agreement, task.is_tie = (
        TaskStatus.COMPLETED,
        now,
        result,
        agreement,
        is_tie,
    )
    customer_id, project_id, task_id = project.customer_id, project.pk, task.pk
    transaction.on_commit(lambda: _announce_completion(customer_id, project_id, task_id))
    return True


def _announce_completion(customer_id: int, project_id: int, task_id: int) -> None:
    from labeling.services.webhooks import webhooks_emit

    task = (
        Task.objects.filter(pk=task_id)
        .values("external_id", "result", "agreement", "is_tie", "completed_at")
        .first()
    )
    if task is None:
        return
    webhooks_emit(
        customer_id=customer_id,
        event="task.completed",
        payload={
            "project_id": project_id,
            "task_id": task_id,
            **task,
            "completed_at": task["completed_at"].isoformat() if task["completed_at"] else None,
        },
    )
    progress = (
        Project.objects.filter(pk=project_id).values("tasks_total", "tasks_completed").first()
    )
    if (
        progress
        and progress["tasks_total"]
        and progress["tasks_completed"] == progress["tasks_total"]
    ):
        webhooks_emit(
            customer_id=customer_id,
            event="project.completed",
            payload={"project_id": project_id, **progress},
        )
