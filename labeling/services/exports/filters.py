"""Export filters: which tasks an export holds, checked before any row is read.

An export holds the final tasks of a project (by completion time) or all of them (by creation
time), optionally bounded in time and to one import batch, in one of the formats of
`labeling.export_formats`. Gold tasks are never exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db.models import QuerySet

from core.errors import ValidationFailed
from core.timestamps import TIMESTAMP_HELP, TimestampInvalid, parse_timestamp
from labeling.export_formats import FORMATS
from labeling.models import AnnotationStatus, ImportJob, Project, Task, TaskStatus, TaskType

_FILTER_KEYS = frozenset({"final_only", "since", "until", "batch_id"})


@dataclass(frozen=True)
class ExportFilters:
    """Which tasks an export holds: final ones (by completion time) or all (by creation time)."""

    final_only: bool = True
    since: datetime | None = None
    until: datetime | None = None
    batch_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "final_only": self.final_only,
            "since": iso(self.since),
            "until": iso(self.until),
            "batch_id": self.batch_id,
        }


def iso(moment: datetime | None) -> str | None:
    """Return `moment` as exports write times: ISO 8601 in UTC, ending in "Z"."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


def _moment_clean(value: Any, *, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | date):
        raise _invalid(field, f"{str(value)[:60]!r} is not a date or time. {TIMESTAMP_HELP}")
    try:
        return parse_timestamp(value)
    except TimestampInvalid as exc:
        raise _invalid(field, str(exc)) from exc


def _batch_clean(value: Any, *, project: Project) -> int | None:
    if value is None or value == "":
        return None
    batch: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        batch = value
    elif isinstance(value, str) and value.strip().isdecimal():
        batch = int(value.strip())
    if batch is None or not 0 < batch < 2**63:  # ids are positive 64-bit integers
        raise _invalid("batch", f"{str(value)[:60]!r} is not an import batch id (a whole number).")
    if not ImportJob.objects.filter(project=project, pk=batch).exists():
        raise _invalid("batch", f"There is no import batch {batch} in this project.")
    return batch


def filters_clean(
    *,
    project: Project,
    final_only: bool = True,
    since: Any = None,
    until: Any = None,
    batch_id: Any = None,
) -> ExportFilters:
    """Check export filters; raise ValidationFailed naming the field (since, until or batch)."""
    since_at = _moment_clean(since, field="since")
    until_at = _moment_clean(until, field="until")
    if since_at is not None and until_at is not None and until_at <= since_at:
        raise _invalid("until", "until must be later than since.")
    return ExportFilters(
        final_only=bool(final_only),
        since=since_at,
        until=until_at,
        batch_id=_batch_clean(batch_id, project=project),
    )


def filters_from_mapping(*, project: Project, filters: Mapping[str, Any]) -> ExportFilters:
    """Check filters stored as JSON (an export job's); raise ValidationFailed naming the field."""
    unknown = sorted(set(filters) - _FILTER_KEYS)
    if unknown:
        raise _invalid(unknown[0], f"Unknown filter; use {', '.join(sorted(_FILTER_KEYS))}.")
    final_only = filters.get("final_only", True)
    if not isinstance(final_only, bool):
        raise _invalid("final_only", "final_only is true or false.")
    return filters_clean(
        project=project,
        final_only=final_only,
        since=filters.get("since"),
        until=filters.get("until"),
        batch_id=filters.get("batch_id"),
    )


def format_clean(*, project: Project, file_format: str) -> str:
    """Check the file format; raise ValidationFailed on format (CoNLL is only for NER projects)."""
    if file_format not in FORMATS:
        raise _invalid("format", f"{str(file_format)[:20]!r} is not one of {', '.join(FORMATS)}.")
    if file_format == "conll" and project.task_type != TaskType.NER:
        raise _invalid("format", "CoNLL is only for named-entity (ner) projects.")
    return file_format


def tasks_selected(*, project: Project, filters: ExportFilters) -> QuerySet[Task]:
    """Return the project's tasks that the filters take in (never gold ones)."""
    # Gold tasks are the customer's benchmark, not data to deliver: they never become final.
    tasks = Task.objects.filter(project=project, is_gold=False)
    moment = "created_at"
    if filters.final_only:
        tasks = tasks.filter(status=TaskStatus.COMPLETED)
        moment = "completed_at"
    if filters.since is not None:
        tasks = tasks.filter(**{f"{moment}__gte": filters.since})
    if filters.until is not None:
        tasks = tasks.filter(**{f"{moment}__lt": filters.until})
    if filters.batch_id is not None:
        tasks = tasks.filter(import_job_id=filters.batch_id)
    return tasks


def collection_statuses(filters: ExportFilters) -> list[str]:
    """Return the statuses of the submissions a collection project exports as rows."""
    if filters.final_only:
        return [AnnotationStatus.ACCEPTED]
    return [AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED]
