"""The scope of a quality report: a project or one of its import batches, and its newest annotations.

Both the agreement and the people reports read the same load of annotations (`annotation_rows_load`,
one query, capped at `ANNOTATION_ROWS_MAX`), so a page that shows both loads them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform

from labeling.models import (
    Annotation,
    AnnotationStatus,
    ImportJob,
    Project,
    TaskType,
)

ANNOTATION_ROWS_MAX = 200_000
# Work that counts in a vote: not rejected or discounted (and never a reviewer's correction).
COUNTED = frozenset({AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED})


@dataclass(frozen=True)
class AnnotationRows:
    """The newest annotations of a scope, as plain tuples (see `annotation_rows_load` for the fields)."""

    rows: list[tuple[Any, ...]]
    is_capped: bool


def in_scope(queryset: QuerySet[Any], batch_id: int | None, task: str = "task") -> QuerySet[Any]:
    """Narrow `queryset` to the import batch `batch_id` (through its `task`), or leave it whole."""
    if batch_id is None:
        return queryset
    return queryset.filter(**{f"{task}__import_job_id": batch_id})


def annotation_rows_load(project: Project, batch_id: int | None, rows_max: int) -> AnnotationRows:
    """Load (task, author, status, is_gold, task status, agreement, label, final label, is_tie)
    newest first, one query; the labels are read by the database, for single-label projects only."""
    annotations = in_scope(
        Annotation.objects.filter(project_id=project.pk, corrects__isnull=True).exclude(
            status=AnnotationStatus.DISCOUNTED
        ),
        batch_id,
    )
    fields = ["task_id", "author_id", "status", "task__is_gold", "task__status", "agreement"]
    if project.task_type == TaskType.SINGLE_LABEL:
        annotations = annotations.annotate(
            label_given=KeyTextTransform("label", "result"),
            label_final=KeyTextTransform("label", "task__result"),
        )
        # A tie's final label is JSON null, which some databases read as the text "null": the
        # task's is_tie says it instead.
        fields += ["label_given", "label_final", "task__is_tie"]
    rows = list(annotations.order_by("-submitted_at", "-pk").values_list(*fields)[: rows_max + 1])
    is_capped = len(rows) > rows_max
    return AnnotationRows(rows=rows[:rows_max], is_capped=is_capped)


def batch_of(*, project: Project, batch_id: int) -> ImportJob | None:
    """The import batch `batch_id` of `project`, or None."""
    return ImportJob.objects.filter(project_id=project.pk, pk=batch_id).first()
