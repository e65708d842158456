"""Per-person confusion estimates for consensus projects (Dawid-Skene over the project's labels),
and discounting the consensus work of a person whose work is not to be trusted.

The estimates feed weighted vote, Dawid-Skene posteriors and dynamic overlap at each submission.
They are refreshed by a periodic job, and whenever a manager asks; gold answers seed them. Each
refresh also stores the project's class priors and the crowd's average confusion matrix
(`ConsensusPriors`): every posterior uses those priors, and anyone without an estimate of their own
counts as an average member of the crowd.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from kit.consensus import FloatArray, dawid_skene_estimates
from labeling.enqueue import job_enqueue
from labeling.events import REVERSED_DISCOUNTED, work_reversed_send
from labeling.models import (
    AggregationMethod,
    Annotation,
    AnnotationStatus,
    ConsensusPriors,
    GoldAnswer,
    Pipeline,
    Project,
    ProjectStatus,
    SlotKind,
    Task,
    TaskStatus,
    TaskType,
    WorkerConfusion,
    WorkSlot,
)
from labeling.queue_order import slot_order_keys
from labeling.services.leases import leases_release_for_person

# Enough labels per person for an estimate worth more than the default accuracy.
MIN_LABELS_PER_PERSON = 5
CONFUSIONS_ESTIMATE_TASK = "labeling.tasks.consensus_confusions_estimate"


def projects_needing_estimates() -> list[int]:
    """Active single-label consensus projects whose aggregation uses confusion estimates."""
    projects = Project.objects.filter(
        status=ProjectStatus.ACTIVE, pipeline=Pipeline.CONSENSUS, task_type=TaskType.SINGLE_LABEL
    )
    return [
        p.pk
        for p in projects.only("id", "aggregation_method", "confidence_threshold")
        if p.aggregation_method != AggregationMethod.MAJORITY or p.confidence_threshold
    ]


def consensus_confusions_estimate(*, project: Project) -> dict[str, Any]:
    """Run Dawid-Skene over the project's classification labels; store each person's matrix, the
    class priors and the crowd's matrix.

    Gold tasks with answers are clamped to their answer. People with fewer than
    MIN_LABELS_PER_PERSON labels keep no estimate (the crowd's matrix applies to them). A person's
    `accuracy` is their diagonal weighted by the class priors. Returns a summary: people, labels,
    tasks, iterations.
    """
    classes = [label["name"] for label in project.labels]
    rows = list(
        Annotation.objects.filter(
            project_id=project.pk,
            status__in=[AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED],
            corrects__isnull=True,
        ).values_list("task_id", "author_id", "result")
    )
    labels = [
        (task_id, author_id, result["label"])
        for task_id, author_id, result in rows
        if isinstance(result, dict) and result.get("label") in classes
    ]
    gold = {
        task_id: result["label"]
        for task_id, result in GoldAnswer.objects.filter(task__project_id=project.pk).values_list(
            "task_id", "result"
        )
        if isinstance(result, dict) and result.get("label") in classes
    }
    if not labels:
        return {"people": 0, "labels": 0, "tasks": 0, "iterations": 0}
    fitted = dawid_skene_estimates(labels, classes, gold=gold)
    seen: dict[int, int] = {}
    for _, author_id, _ in labels:
        seen[author_id] = seen.get(author_id, 0) + 1
    now = timezone.now()
    priors = [fitted.priors[c] for c in classes]
    estimates = []
    for person, nested in fitted.confusions.items():
        if seen.get(person, 0) < MIN_LABELS_PER_PERSON:
            continue
        matrix = [[float(nested[t][g]) for g in classes] for t in classes]
        accuracy = float(sum(priors[i] * matrix[i][i] for i in range(len(classes))))
        estimates.append(
            WorkerConfusion(
                user_id=person,
                project_id=project.pk,
                classes=classes,
                matrix=matrix,
                accuracy=accuracy,
                labels_seen=seen[person],
                updated_at=now,
            )
        )
    with transaction.atomic():
        WorkerConfusion.objects.filter(project_id=project.pk).delete()
        WorkerConfusion.objects.bulk_create(estimates)
        ConsensusPriors.objects.update_or_create(
            project_id=project.pk,
            defaults={
                "classes": classes,
                "class_priors": priors,
                "crowd_matrix": [[fitted.crowd[t][g] for g in classes] for t in classes],
                "labels_seen": len(labels),
                "updated_at": now,
            },
        )
    return {
        "people": len(estimates),
        "labels": len(labels),
        "tasks": len({t for t, _, _ in labels}),
        "iterations": fitted.iterations,
    }


@dataclass(frozen=True)
class ProjectEstimates:
    """What a posterior of one task needs from the last estimate: the class priors, the crowd's
    matrix (None before any estimate, or after the labels changed) and the people's matrices."""

    priors: FloatArray
    crowd: FloatArray | None
    confusions: dict[int, FloatArray | None]
    accuracies: dict[int, float]


def project_estimates_for(*, project: Project, user_ids: Iterable[int]) -> ProjectEstimates:
    """Load the project's stored priors and the matrices of `user_ids` (two queries).

    Estimates made for other classes than the project's current labels are ignored: uniform
    priors, no crowd matrix, and no matrix for those people.
    """
    classes = [label["name"] for label in project.labels]
    k = len(classes)
    stored = ConsensusPriors.objects.filter(project_id=project.pk).first()
    current = stored is not None and stored.classes == classes
    people = WorkerConfusion.objects.filter(project_id=project.pk, user_id__in=list(user_ids))
    return ProjectEstimates(
        priors=np.asarray(stored.class_priors, dtype=np.float64)
        if stored is not None and current
        else np.full(k, 1 / k),
        crowd=np.asarray(stored.crowd_matrix, dtype=np.float64)
        if stored is not None and current
        else None,
        confusions={
            e.user_id: np.asarray(e.matrix, dtype=np.float64) if e.classes == classes else None
            for e in people
        },
        accuracies={e.user_id: e.accuracy for e in people if e.classes == classes},
    )


def consensus_confusions_estimate_queue(*, project: Project) -> None:
    """Queue a fresh `consensus_confusions_estimate` of `project` as a background job; the new
    estimates replace the current ones when it is done (at once when tasks run eagerly).

    The job reads committed labels: call it outside a transaction, as a page or API view does.
    """
    job_enqueue(CONFUSIONS_ESTIMATE_TASK, project.pk)


# --- Discounting a suspended person's work ---------------------------------------------------


def _queue_orders(project_ids: Iterable[int]) -> dict[int, str]:
    """Each project's queue order (the keys of the slots that replace discounted work)."""
    return dict(Project.objects.filter(pk__in=set(project_ids)).values_list("pk", "queue_order"))


@transaction.atomic
def consensus_work_discount(
    *,
    user: User,
    project: Project | None = None,
    now: datetime | None = None,
    rule_action_id: int | None = None,
) -> list[int]:
    """Discount the person's unreviewed work on open consensus tasks (of `project`, or anywhere).

    Their active leases there are released first. Each discounted annotation stops counting:
    its task's `annotations_count` goes down and the task gets a new open annotate slot, so
    someone else redoes it. Returns the discounted annotation ids. Gold tasks are left alone.
    `rule_action_id` (the quality rule action that decided it, as a number) goes out with
    `work_reversed`, as the evidence of what the work's pay becomes.
    """
    now = now or timezone.now()
    leases_release_for_person(user=user, project_id=project.pk if project else None, now=now)
    work = Annotation.objects.filter(
        author_id=user.pk,
        status=AnnotationStatus.SUBMITTED,
        corrects__isnull=True,
        project__pipeline=Pipeline.CONSENSUS,
        task__status=TaskStatus.OPEN,
        task__is_gold=False,
    )
    if project is not None:
        work = work.filter(project_id=project.pk)
    task_ids = sorted(set(work.values_list("task_id", flat=True)))
    if not task_ids:
        return []
    tasks = {
        task.pk: task
        for task in Task.objects.select_for_update()
        .filter(pk__in=task_ids, status=TaskStatus.OPEN)
        .only("pk", "project_id", "priority")
        .order_by("pk")
    }
    rows = list(work.filter(task_id__in=list(tasks)).order_by("pk").values_list("pk", "task_id"))
    if not rows:
        return []
    discounted = [pk for pk, _ in rows]
    Annotation.objects.filter(pk__in=discounted).update(status=AnnotationStatus.DISCOUNTED)
    per_task: dict[int, int] = defaultdict(int)
    for _, task_id in rows:
        per_task[task_id] += 1
    by_count: dict[int, list[int]] = defaultdict(list)
    for task_id, count in per_task.items():
        by_count[count].append(task_id)
    for count, ids in by_count.items():
        Task.objects.filter(pk__in=ids).update(annotations_count=F("annotations_count") - count)
    # The task is under way: its new slot is keyed as the queue order keys such slots (ahead of
    # tasks not yet started), as every other place that makes slots does.
    orders = _queue_orders(task.project_id for task in tasks.values())
    WorkSlot.objects.bulk_create(
        [
            WorkSlot(
                project_id=tasks[task_id].project_id,
                task_id=task_id,
                kind=SlotKind.ANNOTATE,
                level=0,
                priority=tasks[task_id].priority,
                order_key=slot_order_keys(order=orders[tasks[task_id].project_id], task_id=task_id)[
                    0
                ],
            )
            for _, task_id in rows
        ]
    )
    work_reversed_send(
        user_id=user.pk,
        project_id=project.pk if project else None,
        annotation_ids=discounted,
        task_ids=sorted(per_task),
        reason=REVERSED_DISCOUNTED,
        rule_action_id=rule_action_id,
    )
    audit_record(
        actor=None,
        action="annotations.discounted",
        target=user,
        after={
            "project": project.pk if project else None,
            "annotation_ids": discounted,
            "task_ids": sorted(per_task),
        },
    )
    return discounted
