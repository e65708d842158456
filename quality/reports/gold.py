"""The gold set of a project as the Quality page lists it: each gold task with its scores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count

from labeling.models import (
    GoldAnswer,
    GoldScore,
    Project,
)

GOLD_ROWS_MAX = 200


@dataclass(frozen=True)
class GoldRow:
    task_id: int
    external_id: str | None
    result: Any
    explanation: str
    is_retired: bool
    version: int
    updated_at: datetime
    scores: int
    mean_score: float | None


def gold_set(*, project: Project, limit: int = GOLD_ROWS_MAX) -> tuple[list[GoldRow], int]:
    """The project's gold tasks (newest first, at most `limit`) with their scores; and how many
    there are in all. Three queries at most."""
    answers = list(
        GoldAnswer.objects.filter(task__project_id=project.pk)
        .order_by("-task_id")
        .values_list(
            "task_id",
            "task__external_id",
            "result",
            "explanation",
            "is_retired",
            "version",
            "updated_at",
        )[: limit + 1]
    )
    total = (
        len(answers)
        if len(answers) <= limit
        else GoldAnswer.objects.filter(task__project_id=project.pk).count()
    )
    answers = answers[:limit]
    scores = {
        row["task_id"]: (row["n"], row["mean"])
        for row in GoldScore.objects.filter(task_id__in=[a[0] for a in answers])
        .values("task_id")
        .annotate(n=Count("id"), mean=Avg("value"))
        .order_by()
    }
    rows = [
        GoldRow(
            task_id=task_id,
            external_id=external_id,
            result=result,
            explanation=explanation,
            is_retired=is_retired,
            version=version,
            updated_at=updated_at,
            scores=scores.get(task_id, (0, None))[0],
            mean_score=scores.get(task_id, (0, None))[1],
        )
        for task_id, external_id, result, explanation, is_retired, version, updated_at in answers
    ]
    return rows, total
