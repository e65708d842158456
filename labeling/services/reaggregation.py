"""Re-aggregation: when a consensus project's estimates refresh, the tasks whose label or
confidence would now come out differently get the new values, each change recorded
(`Reaggregation`, with the before and after), announced (`work_updated`) and sent to the
customer's webhooks (`task.updated`).

Which tasks: those in review, and final ones completed within `QUORUM_REAGGREGATE_RECENT_HOURS`;
older final tasks only on request (`include_final=True`, the managers' API and page) or when the
project's `reaggregate_final` says so. Open tasks need nothing: their next aggregation, at the
next submission, reads the fresh estimates anyway. Gold tasks and tasks a reviewer decided are
left alone (a person's verdict is not the model's to overturn), and so is a task whose new
outcome would be a tie (a labelled task is never turned into an unlabelled one behind the
customer's back).

Each change is made once per estimate: a task already re-aggregated with these estimates is
skipped, and a task whose stored values already equal the new outcome is not a change, so
running it twice changes nothing. Tasks are read in primary-key batches of
`QUORUM_REAGGREGATE_BATCH_SIZE`, one transaction each (constant memory on any project size).

Progress: each run reports where it is in the cache (`reaggregation_progress`: queued, running
with tasks done of the total, finished or failed, with the counts), as imports do, because a
batch's transaction is invisible to others until it ends; the last run stays readable for a day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from labeling.enqueue import job_enqueue
from labeling.events import work_updated_send
from labeling.models import (
    Annotation,
    ConsensusPriors,
    Pipeline,
    Project,
    Review,
    Task,
    TaskStatus,
)
from labeling.models.work import Reaggregation
from labeling.services.completion import (
    COUNTED_STATUSES,
    single_label_outcome,
    uses_posterior,
)
from labeling.services.consensus import project_estimates_for
from labeling.services.task_state import customer_has_webhooks
from labeling.services.webhooks import webhooks_emit

REAGGREGATE_TASK = "labeling.tasks.consensus_reaggregate"
# A confidence that moves less than this is not a change (no record, no event, no webhook).
CONFIDENCE_TOLERANCE = 1e-6


# The states of a project's latest re-aggregation, as `reaggregation_progress` reports them.
PROGRESS_IDLE = "idle"  # none in the last day
PROGRESS_QUEUED = "queued"
PROGRESS_RUNNING = "running"
PROGRESS_FINISHED = "finished"
PROGRESS_FAILED = "failed"
PROGRESS_KEPT_SECONDS = 24 * 3600


def _progress_key(project_id: int) -> str:
    return f"labeling:reaggregate:{project_id}:progress"


def _progress_write(project_id: int, **values: Any) -> None:
    """Merge `values` into the project's progress record."""
    record = cache.get(_progress_key(project_id)) or {}
    record.update(values)
    cache.set(_progress_key(project_id), record, PROGRESS_KEPT_SECONDS)


def reaggregation_progress(project: Project) -> dict[str, Any]:
    """Return what the project's latest re-aggregation reports: its `state` (idle, queued,
    running, finished, failed), `done` of `total` tasks and `progress` (the share done, None
    while the total is unknown), the tasks `changed`, the `ties_left`, `include_final`, the
    times it was queued, started and finished, and a `message` (why it failed or did nothing)."""
    record = cache.get(_progress_key(project.pk)) or {}
    data: dict[str, Any] = {
        "state": PROGRESS_IDLE,
        "include_final": None,
        "done": 0,
        "total": None,
        "changed": 0,
        "ties_left": 0,
        "queued_at": None,
        "started_at": None,
        "finished_at": None,
        "message": "",
        **record,
    }
    total = data["total"]
    if data["state"] == PROGRESS_FINISHED:
        data["progress"] = 1.0
    elif total:
        data["progress"] = round(min(1.0, data["done"] / total), 4)
    else:
        data["progress"] = None
    return data


@dataclass(frozen=True)
class ReaggregationSummary:
    """What one run did: tasks examined, tasks changed, tasks left alone because the new outcome
    would be a tie, and the estimates used (None: the project has no current estimates)."""

    examined: int
    changed: int
    ties_left: int
    estimates_at: datetime | None


def reaggregation_applies(project: Project) -> bool:
    """Whether the project's outcomes come from the estimates (single-label consensus with
    weighted vote, Dawid-Skene or dynamic overlap): only those change when the estimates do."""
    return project.pipeline == Pipeline.CONSENSUS and uses_posterior(project)


def _current_estimates_at(project: Project) -> datetime | None:
    classes = [label["name"] for label in project.labels]
    stored = (
        ConsensusPriors.objects.filter(project_id=project.pk)
        .values_list("classes", "updated_at")
        .first()
    )
    if stored is None or stored[0] != classes:
        return None
    return stored[1]


def _candidates(project: Project, *, include_final: bool, now: datetime) -> Any:
    recent = now - timedelta(hours=settings.QUORUM_REAGGREGATE_RECENT_HOURS)
    completed = Q(status=TaskStatus.COMPLETED)
    if not include_final:
        completed &= Q(completed_at__gte=recent)
    return (
        Task.objects.filter(project_id=project.pk, is_gold=False)
        .filter(Q(status=TaskStatus.IN_REVIEW) | completed)
        .exclude(pk__in=Review.objects.filter(project_id=project.pk).values("task_id"))
    )


def project_reaggregate(
    *,
    project: Project,
    include_final: bool | None = None,
    actor: User | None = None,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReaggregationSummary:
    """Re-aggregate the project's tasks under its current estimates (see the module's doc).

    `include_final`: also final tasks older than the recent window (None: the project's
    `reaggregate_final`). `progress` is called with the tasks examined so far after each batch.
    Each batch is its own transaction: call it outside one (a job, or after a page's commit).
    """
    now = now or timezone.now()
    if not reaggregation_applies(project):
        return ReaggregationSummary(0, 0, 0, None)
    if include_final is None:
        include_final = project.reaggregate_final
    estimates_at = _current_estimates_at(project)
    if estimates_at is None:
        _progress_write(
            project.pk,
            state=PROGRESS_FINISHED,
            include_final=include_final,
            done=0,
            total=0,
            changed=0,
            ties_left=0,
            started_at=timezone.now(),
            finished_at=timezone.now(),
            message="No current estimates: refresh the estimates first.",
        )
        return ReaggregationSummary(0, 0, 0, None)
    size = batch_size or settings.QUORUM_REAGGREGATE_BATCH_SIZE
    candidates = _candidates(project, include_final=include_final, now=now)
    _progress_write(
        project.pk,
        state=PROGRESS_RUNNING,
        include_final=include_final,
        done=0,
        total=candidates.count(),
        changed=0,
        ties_left=0,
        started_at=timezone.now(),
        finished_at=None,
        message="",
    )
    examined = changed = ties = 0
    last = 0
    try:
        while True:
            ids = list(
                candidates.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]
            )
            if not ids:
                break
            last = ids[-1]
            batch_changed, batch_ties = _reaggregate_batch(
                project=project,
                task_ids=ids,
                include_final=include_final,
                estimates_at=estimates_at,
                actor=actor,
                now=now,
            )
            examined += len(ids)
            changed += batch_changed
            ties += batch_ties
            _progress_write(project.pk, done=examined, changed=changed, ties_left=ties)
            if progress is not None:
                progress(examined)
    except Exception as exc:
        # The batches done so far are committed and stay; the record says where it stopped.
        _progress_write(
            project.pk,
            state=PROGRESS_FAILED,
            finished_at=timezone.now(),
            message=f"Stopped after {examined} tasks: {type(exc).__name__}.",
        )
        raise
    # Tasks may have joined the candidates while it ran (new in review): the total is the count.
    _progress_write(project.pk, state=PROGRESS_FINISHED, total=examined, finished_at=timezone.now())
    return ReaggregationSummary(examined, changed, ties, estimates_at)


@transaction.atomic
def _reaggregate_batch(
    *,
    project: Project,
    task_ids: list[int],
    include_final: bool,
    estimates_at: datetime,
    actor: User | None,
    now: datetime,
) -> tuple[int, int]:
    """Re-aggregate one batch of tasks (rows locked); return (changed, left as ties)."""
    tasks = list(
        _candidates(project, include_final=include_final, now=now)
        .select_for_update()
        .filter(pk__in=task_ids)
        .exclude(reaggregations__estimates_at=estimates_at)
        .only("pk", "status", "result", "confidence", "agreement", "is_tie", "external_id")
        .order_by("pk")
    )
    if not tasks:
        return 0, 0
    votes: dict[int, list[tuple[int, str]]] = defaultdict(list)
    classes = {label["name"] for label in project.labels}
    for task_id, author_id, result in (
        Annotation.objects.filter(
            task_id__in=[t.pk for t in tasks], status__in=COUNTED_STATUSES, corrects__isnull=True
        )
        .order_by("pk")
        .values_list("task_id", "author_id", "result")
    ):
        if isinstance(result, dict) and result.get("label") in classes:
            votes[task_id].append((author_id, result["label"]))
    estimates = project_estimates_for(
        project=project, user_ids={a for labels in votes.values() for a, _ in labels}
    )
    records: list[Reaggregation] = []
    ties = 0
    for task in tasks:
        labels = votes.get(task.pk)
        if not labels:
            continue
        outcome, _ = single_label_outcome(project=project, labels=labels, estimates=estimates)
        if outcome.is_tie:
            ties += 1
            continue
        before_label = (task.result or {}).get("label")
        after_label = (outcome.result or {}).get("label")
        same_confidence = (
            task.confidence is not None
            and outcome.confidence is not None
            and abs(task.confidence - outcome.confidence) <= CONFIDENCE_TOLERANCE
        )
        if before_label == after_label and same_confidence and not task.is_tie:
            continue
        records.append(
            Reaggregation(
                task_id=task.pk,
                project_id=project.pk,
                task_status=task.status,
                before_result=task.result,
                after_result=outcome.result,
                before_confidence=task.confidence,
                after_confidence=outcome.confidence,
                estimates_at=estimates_at,
                changed_at=now,
            )
        )
        task.result = outcome.result
        task.confidence = outcome.confidence
        task.agreement = outcome.agreement
        task.is_tie = False
    if not records:
        return 0, ties
    changed_ids = {r.task_id for r in records}
    changed_tasks = [t for t in tasks if t.pk in changed_ids]
    Task.objects.bulk_update(changed_tasks, ["result", "confidence", "agreement", "is_tie"])
    Reaggregation.objects.bulk_create(records)
    saved = {
        r.task_id: r
        for r in Reaggregation.objects.filter(
            task_id__in=list(changed_ids), estimates_at=estimates_at
        )
    }
    webhooks = customer_has_webhooks(project.customer_id)
    for task in changed_tasks:
        record = saved[task.pk]
        work_updated_send(
            project_id=project.pk,
            task_id=task.pk,
            reaggregation_id=record.pk,
            task_status=task.status,
            before_label=(record.before_result or {}).get("label"),
            after_label=(record.after_result or {}).get("label"),
            before_confidence=record.before_confidence,
            after_confidence=record.after_confidence,
            estimates_at=estimates_at,
            changed_at=now,
        )
        if webhooks and task.status == TaskStatus.COMPLETED:
            webhooks_emit(
                customer_id=project.customer_id,
                event="task.updated",
                payload={
                    "project_id": project.pk,
                    "task_id": task.pk,
                    "external_id": task.external_id,
                    "result": task.result,
                    "confidence": task.confidence,
                    "agreement": task.agreement,
                    "before": {
                        "result": record.before_result,
                        "confidence": record.before_confidence,
                    },
                    "reason": "reaggregated",
                    "estimates_at": estimates_at.isoformat(),
                    "changed_at": now.isoformat(),
                },
            )
    audit_record(
        actor=actor,
        action="tasks.reaggregated",
        target=project,
        after={
            "estimates_at": estimates_at.isoformat(),
            "task_ids": sorted(changed_ids),
        },
    )
    return len(records), ties


def project_reaggregate_queue(*, project: Project, include_final: bool, actor: User | None) -> None:
    """Queue `project_reaggregate` of `project` as a background job (at once when tasks run
    eagerly), after the current transaction commits; its progress says "queued" until it runs."""
    actor_id = actor.pk if actor is not None else None

    def enqueue() -> None:
        _progress_write(
            project.pk,
            state=PROGRESS_QUEUED,
            include_final=include_final,
            done=0,
            total=None,
            changed=0,
            ties_left=0,
            queued_at=timezone.now(),
            started_at=None,
            finished_at=None,
            message="",
        )
        job_enqueue(REAGGREGATE_TASK, project.pk, include_final, actor_id)

    transaction.on_commit(enqueue)
