"""Import validation: each parsed record checked against the project's label schema.

Good records become `CleanTask`s, as they will be stored; each bad line is noted in the batch's
`ImportOutcome`, which reports every bad line (up to MAX_STORED_ERRORS) and what was stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kit.label_schema import LabelSchema, SchemaError, validate_result, validate_task_data
from labeling.models import Project
from labeling.parsers.records import ParseError
from labeling.services.results import label_schema_of

MAX_STORED_ERRORS = 1_000


class BatchRejected(Exception):
    """Raised inside the batch transaction to roll it back when any line was bad."""


@dataclass
class ImportOutcome:
    """What a batch read and stored, and its bad lines."""

    lines_read: int = 0
    created: int = 0  # every task stored, gold ones included
    gold: int = 0  # of which gold
    duplicates: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    processed_bytes: int = 0

    def add_error(self, line: int, field_name: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"line": line, "field": field_name, "message": message})


class CleanTask(NamedTuple):
    """One good line of an import, with its values as they will be stored."""

    line: int
    external_id: str | None
    data: dict[str, Any]
    meta: dict[str, Any]
    pre_annotation: dict[str, Any] | None
    priority: int
    gold: dict[str, Any] | None


def _result_field(
    record: dict[str, Any], name: str, schema: LabelSchema, data: dict[str, Any]
) -> dict[str, Any] | None:
    """The record's `name` (a pre-annotation or gold answer) checked against the schema and the
    task; SchemaError paths name it ("gold.label", not "result.label")."""
    value = record[name]
    if value is None:
        return None
    try:
        return validate_result(value, schema=schema, data=data)
    except SchemaError as exc:
        raise SchemaError(
            {f"{name}{k.removeprefix('result')}": v for k, v in exc.errors.items()}
        ) from None


def _clean_task(
    line: int, record: dict[str, Any], task_type: str, schema: LabelSchema
) -> CleanTask:
    """Validate one parsed record; raise SchemaError naming each bad field."""
    data = validate_task_data(record["data"], task_type=task_type)
    pre = _result_field(record, "pre_annotation", schema, data)
    gold = _result_field(record, "gold", schema, data)
    priority = record["priority"]
    if priority is None or priority == "":
        priority = 0
    elif (
        isinstance(priority, bool)
        or not isinstance(priority, int)
        or not -1_000_000 <= priority <= 1_000_000
    ):
        raise SchemaError({"priority": "A whole number from -1000000 to 1000000."})
    return CleanTask(line, record["external_id"], data, record["meta"] or {}, pre, priority, gold)


def validated_tasks(
    project: Project, records: Iterable[tuple[int, Any]], outcome: ImportOutcome
) -> Iterator[CleanTask]:
    """Yield the clean values of good records; note each bad one in `outcome`."""
    schema = label_schema_of(project)
    task_type = project.task_type
    for line, record in records:
        outcome.lines_read += 1
        if isinstance(record, ParseError):
            outcome.add_error(record.line, record.field, record.message)
            continue
        try:
            task = _clean_task(line, record, task_type, schema)
        except SchemaError as exc:
            for field_name, message in exc.errors.items():
                outcome.add_error(line, field_name, message)
            continue
        yield task
