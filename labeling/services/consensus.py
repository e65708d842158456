"""Per-person confusion estimates for consensus projects (Dawid-Skene over the project's labels).

The estimates feed weighted vote, Dawid-Skene posteriors and dynamic overlap at each submission.
They are refreshed by a periodic job, and whenever a manager asks; gold answers seed them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from kit.consensus import dawid_skene_labels
from labeling.models import (
    AggregationMethod,
    Annotation,
    AnnotationStatus,
    GoldAnswer,
    Pipeline,
    Project,
    ProjectStatus,
    TaskType,
    WorkerConfusion,
)

# Enough labels per person for an estimate worth more than the default accuracy.
MIN_LABELS_PER_PERSON = 5


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
    """Run Dawid-Skene over the project's classification labels and store each person's matrix.

    Gold tasks with answers are clamped to their answer. People with fewer than
    MIN_LABELS_PER_PERSON labels keep no estimate (the default accuracy applies to them).
    Returns a summary: people, labels, tasks.
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
        return {"people": 0, "labels": 0, "tasks": 0}
    _, confusions = dawid_skene_labels(labels, classes, gold=gold)
    seen: dict[int, int] = {}
    for _, author_id, _ in labels:
        seen[author_id] = seen.get(author_id, 0) + 1
    now = timezone.now()
    estimates = []
    for person, nested in confusions.items():
        if seen.get(person, 0) < MIN_LABELS_PER_PERSON:
            continue
        matrix = [[float(nested[t][g]) for g in classes] for t in classes]
        accuracy = float(np.mean([matrix[i][i] for i in range(len(classes))]))
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
    return {
        "people": len(estimates),
        "labels": len(labels),
        "tasks": len({t for t, _, _ in labels}),
    }
