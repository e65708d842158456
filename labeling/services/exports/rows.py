"""Export rows built in Python: the tasks an export holds, read in keyset-paginated chunks.

Each row is a plain dict in the shape `labeling.export_formats` documents, for its writers.
Pipelines: standard and consensus give one row per task; collection gives one row per accepted
annotation of a final task (each submission is its own result), or, when exporting all tasks,
one row per annotation that was not rejected and one empty row for a task that has none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.db.models import Exists, OuterRef

from labeling.models import Annotation, Pipeline, Project, Review
from labeling.services.completion import CONFIDENCE_POSTERIOR, confidence_method_of
from labeling.services.exports.filters import (
    ExportFilters,
    collection_statuses,
    filters_clean,
    iso,
    tasks_selected,
)

# Tasks read per query. Each chunk costs three queries (its tasks, their annotations and their
# reviews) and holds at most this many tasks in memory.
CHUNK_SIZE = 2_000

_TASK_FIELDS = (
    "id",
    "external_id",
    "status",
    "data",
    "meta",
    "result",
    "agreement",
    "confidence",
    "is_tie",
    "review_level",
    "completed_at",
    "import_job_id",
)
_ANNOTATION_FIELDS = (
    "id",
    "task_id",
    "author_id",
    "revision",
    "status",
    "result",
    "submitted_at",
    "active_seconds",
    "instructions_version",
    "corrects_id",
)
_REVIEW_FIELDS = (
    "task_id",
    "level",
    "verdict",
    "reason",
    "reviewer_id",
    "annotation_id",
    "correction_id",
    "created_at",
)


def rows_count(*, project: Project, filters: ExportFilters) -> int:
    """Return how many rows `rows_read` gives for these filters."""
    tasks = tasks_selected(project=project, filters=filters)
    if project.pipeline != Pipeline.COLLECTION:
        return tasks.count()
    statuses = collection_statuses(filters)
    results = Annotation.objects.filter(task__in=tasks, status__in=statuses)
    total = results.count()
    if not filters.final_only:
        has_result = Annotation.objects.filter(task_id=OuterRef("pk"), status__in=statuses)
        total += tasks.exclude(Exists(has_result)).count()
    return total


def _annotation_row(annotation: dict[str, Any]) -> dict[str, Any]:
    return {
        "annotation_id": annotation["id"],
        "annotator_id": annotation["author_id"],
        "revision": annotation["revision"],
        "status": annotation["status"],
        "result": annotation["result"],
        "submitted_at": iso(annotation["submitted_at"]),
        "active_seconds": annotation["active_seconds"],
        "instructions_version": annotation["instructions_version"],
        "corrects": annotation["corrects_id"],
    }


def _review_row(review: dict[str, Any]) -> dict[str, Any]:
    return {
        "level": review["level"],
        "verdict": review["verdict"],
        "reason": review["reason"],
        "reviewer_id": review["reviewer_id"],
        "annotation_id": review["annotation_id"],
        "correction_id": review["correction_id"],
        "reviewed_at": iso(review["created_at"]),
    }


def _task_row(
    task: dict[str, Any],
    *,
    task_type: str,
    annotations: list[dict[str, Any]],
    reviews: list[dict[str, Any]] | None = None,
    confidence_method: str | None = None,
) -> dict[str, Any]:
    is_vote_share = confidence_method not in (None, CONFIDENCE_POSTERIOR)
    return {
        "task_id": task["id"],
        "external_id": task["external_id"],
        "task_type": task_type,
        "status": task["status"],
        "data": task["data"],
        "meta": task["meta"],
        "result": task["result"],
        "agreement": task["agreement"],
        "confidence": task["confidence"],
        "confidence_method": confidence_method,
        "vote_share": task["confidence"] if is_vote_share else None,
        "is_tie": task["is_tie"],
        "review_level": task["review_level"],
        "completed_at": iso(task["completed_at"]),
        "batch": task["import_job_id"],
        "annotation_id": None,
        "annotations": annotations,
        "reviews": reviews or [],
    }


def _collection_rows(
    task: dict[str, Any], *, task_type: str, annotations: list[dict[str, Any]], final_only: bool
) -> Iterator[dict[str, Any]]:
    for annotation in annotations:
        row = _task_row(task, task_type=task_type, annotations=[annotation])
        row["result"] = annotation["result"]
        row["annotation_id"] = annotation["annotation_id"]
        yield row
    if not annotations and not final_only:
        yield _task_row(task, task_type=task_type, annotations=[])


def rows_read(*, project: Project, filters: ExportFilters) -> Iterator[dict[str, Any]]:
    """Yield the export rows of the tasks the filters take in, CHUNK_SIZE tasks per three queries."""
    tasks = tasks_selected(project=project, filters=filters).order_by("id")
    is_collection = project.pipeline == Pipeline.COLLECTION
    task_type = project.task_type
    confidence_method = confidence_method_of(project)
    size = CHUNK_SIZE
    after_id = 0
    while True:
        # Keyset pagination: each chunk starts after the last id seen, so every query is one
        # index range scan however deep into the project it is (no OFFSET, no server cursor).
        chunk = list(tasks.filter(id__gt=after_id).values(*_TASK_FIELDS)[:size])
        if not chunk:
            return
        annotations = Annotation.objects.filter(task_id__in=[task["id"] for task in chunk])
        if is_collection:
            annotations = annotations.filter(status__in=collection_statuses(filters))
        by_task: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        for annotation in annotations.order_by("task_id", "submitted_at", "id").values(
            *_ANNOTATION_FIELDS
        ):
            by_task[annotation["task_id"]].append(_annotation_row(annotation))
        reviews: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        for review in (
            Review.objects.filter(task_id__in=[task["id"] for task in chunk])
            .order_by("task_id", "created_at", "id")
            .values(*_REVIEW_FIELDS)
        ):
            reviews[review["task_id"]].append(_review_row(review))
        for task in chunk:
            if is_collection:
                yield from _collection_rows(
                    task,
                    task_type=task_type,
                    annotations=by_task.get(task["id"], []),
                    final_only=filters.final_only,
                )
            else:
                yield _task_row(
                    task,
                    task_type=task_type,
                    annotations=by_task.get(task["id"], []),
                    reviews=reviews.get(task["id"], []),
                    confidence_method=confidence_method,
                )
        if len(chunk) < size:
            return
        after_id = chunk[-1]["id"]
        del chunk, by_task, reviews  # let this chunk go before the next one is read


def export_rows(
    *,
    project: Project,
    final_only: bool = True,
    since: Any = None,
    until: Any = None,
    batch_id: Any = None,
) -> Iterator[dict[str, Any]]:
    """Return the export rows of a project, read lazily in chunks of CHUNK_SIZE tasks.

    `since`/`until` (datetime, date or ISO 8601 text; UTC when no offset) bound the completion
    time of final tasks, or the creation time when `final_only` is false: since <= t < until.
    `batch_id` is an import job of the project. Filters are checked now, before any row is read:
    raises ValidationFailed naming since, until or batch.
    """
    filters = filters_clean(
        project=project, final_only=final_only, since=since, until=until, batch_id=batch_id
    )
    return rows_read(project=project, filters=filters)


def export_count(
    *,
    project: Project,
    final_only: bool = True,
    since: Any = None,
    until: Any = None,
    batch_id: Any = None,
) -> int:
    """Return how many rows `export_rows` gives for the same filters (raises like it)."""
    filters = filters_clean(
        project=project, final_only=final_only, since=since, until=until, batch_id=batch_id
    )
    return rows_count(project=project, filters=filters)
