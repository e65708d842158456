"""A result checked against its project's label schema and its task, before anything stores it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import ValidationFailed
from kit.label_schema import LabelSchema, SchemaError, validate_result
from labeling.models import Project, Task


def label_schema_of(project: Project) -> LabelSchema:
    return LabelSchema.of(
        task_type=project.task_type,
        labels=project.labels,
        max_labels=project.max_labels,
        allow_overlapping_spans=project.allow_overlapping_spans,
    )


def result_clean(schema: LabelSchema, data: dict[str, Any], result: Any) -> dict[str, Any]:
    """Return `result` normalised for `schema` and the task's `data`, or raise ValidationFailed
    naming the first bad part (every bad part is listed in its fields)."""
    try:
        return validate_result(result, schema=schema, data=data)
    except SchemaError as exc:
        first, message = next(iter(exc.errors.items()))
        raise ValidationFailed(
            f"{first}: {message}", fields={k: [v] for k, v in exc.errors.items()}
        ) from None


def task_result_clean(project: Project, task: Task, result: Any) -> dict[str, Any]:
    """`result_clean` for a task of `project`."""
    return result_clean(label_schema_of(project), task.data, result)


@dataclass(frozen=True)
class ClaimedCheck:
    """What a submit checks its result against and how the project's pipeline takes it, as the
    claim read it; `schema_stamp` is the project's `updated_at` then (a change makes it stale)."""

    user_id: int
    task_id: int
    project_id: int
    schema: LabelSchema
    data: dict[str, Any]
    schema_stamp: datetime
    pipeline: str
    review_levels: Any
    overlap: int


class ClaimedChecks:
    """The checks of recent claims of this process, for their submits.

    A submit usually comes to the process that served its claim (the client keeps its connection):
    then it needs no query before its one statement, which still checks the lease and the stamp.
    Bounded: the oldest entries go first, and tasks with large data are not kept.
    """

    MAX_ENTRIES = 2_000
    MAX_DATA_CHARS = 8_000

    def __init__(self) -> None:
        self._entries: OrderedDict[int, ClaimedCheck] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, lease_id: int, check: ClaimedCheck, data_chars: int) -> None:
        if data_chars > self.MAX_DATA_CHARS:
            return
        with self._lock:
            self._entries[lease_id] = check
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)

    def take(self, lease_id: int) -> ClaimedCheck | None:
        with self._lock:
            return self._entries.pop(lease_id, None)


claimed_checks = ClaimedChecks()
