"""Exports: read final (or all) tasks in keyset-paginated chunks and write them as JSONL, CSV or CoNLL.

Small exports stream straight to the client (`export_stream`); larger ones become an `ExportJob`
that a Celery task writes to a file (`export_job_create`, `export_job_run`). Rows are built here
and written by the pure writers of `labeling.exports`, which documents their shape; on PostgreSQL
the database writes JSON Lines itself (`_jsonl_lines`), the same rows without decoding them.

Pipelines: standard and consensus give one row per task; collection gives one row per accepted
annotation of a final task (each submission is its own result), or, when exporting all tasks,
one row per annotation that was not rejected and one empty row for a task that has none.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Exists, OuterRef, QuerySet, TextChoices, TextField
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.errors import ValidationFailed
from core.timestamps import TIMESTAMP_HELP, TimestampInvalid, parse_timestamp
from labeling.bulk import tables_analyze_stale
from labeling.enqueue import job_enqueue
from labeling.exports import FORMATS, compact_json, write_lines
from labeling.models import (
    Annotation,
    AnnotationStatus,
    ExportJob,
    ExportStatus,
    ImportJob,
    Pipeline,
    Project,
    RejectReason,
    Review,
    Task,
    TaskStatus,
    TaskType,
    Verdict,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

# The name of the job that writes an export job's file (labeling.jobs.exports).
EXPORT_RUN_TASK = "labeling.tasks.export_run"
# Tasks read per query. Each chunk costs three queries (its tasks, their annotations and their
# reviews) and holds at most this many tasks in memory.
CHUNK_SIZE = 2_000
DEFAULT_DIRECT_MAX_ROWS = 10_000

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
            "since": _iso(self.since),
            "until": _iso(self.until),
            "batch_id": self.batch_id,
        }


def export_direct_max_rows() -> int:
    """Return the largest export that streams straight to the client instead of becoming a job."""
    return int(getattr(settings, "EXPORT_DIRECT_MAX_ROWS", DEFAULT_DIRECT_MAX_ROWS))


def _iso(moment: datetime | None) -> str | None:
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


def _filters_clean(
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


def _filters_from_mapping(*, project: Project, filters: Mapping[str, Any]) -> ExportFilters:
    unknown = sorted(set(filters) - _FILTER_KEYS)
    if unknown:
        raise _invalid(unknown[0], f"Unknown filter; use {', '.join(sorted(_FILTER_KEYS))}.")
    final_only = filters.get("final_only", True)
    if not isinstance(final_only, bool):
        raise _invalid("final_only", "final_only is true or false.")
    return _filters_clean(
        project=project,
        final_only=final_only,
        since=filters.get("since"),
        until=filters.get("until"),
        batch_id=filters.get("batch_id"),
    )


def _format_clean(*, project: Project, file_format: str) -> str:
    if file_format not in FORMATS:
        raise _invalid("format", f"{str(file_format)[:20]!r} is not one of {', '.join(FORMATS)}.")
    if file_format == "conll" and project.task_type != TaskType.NER:
        raise _invalid("format", "CoNLL is only for named-entity (ner) projects.")
    return file_format


def _tasks(*, project: Project, filters: ExportFilters) -> QuerySet[Task]:
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


def _collection_statuses(filters: ExportFilters) -> list[str]:
    if filters.final_only:
        return [AnnotationStatus.ACCEPTED]
    return [AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED]


def _count(*, project: Project, filters: ExportFilters) -> int:
    tasks = _tasks(project=project, filters=filters)
    if project.pipeline != Pipeline.COLLECTION:
        return tasks.count()
    statuses = _collection_statuses(filters)
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
        "submitted_at": _iso(annotation["submitted_at"]),
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
        "reviewed_at": _iso(review["created_at"]),
    }


def _task_row(
    task: dict[str, Any],
    *,
    task_type: str,
    annotations: list[dict[str, Any]],
    reviews: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
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
        "is_tie": task["is_tie"],
        "review_level": task["review_level"],
        "completed_at": _iso(task["completed_at"]),
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


def _rows(*, project: Project, filters: ExportFilters) -> Iterator[dict[str, Any]]:
    tasks = _tasks(project=project, filters=filters).order_by("id")
    is_collection = project.pipeline == Pipeline.COLLECTION
    task_type = project.task_type
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
            annotations = annotations.filter(status__in=_collection_statuses(filters))
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
                )
        if len(chunk) < size:
            return
        after_id = chunk[-1]["id"]
        del chunk, by_task, reviews  # let this chunk go before the next one is read


# --- JSON Lines written by PostgreSQL --------------------------------------------------------
#
# In Python, decoding the JSON columns and encoding every row again costs most of an export's
# time. On PostgreSQL the database writes the JSON text instead, from the same keyset chunks as
# `_rows`: one query writes each task's line up to its annotations, one writes each of their
# annotations and one each review as a JSON object, and Python puts a task's objects into its
# line while the database runs the next chunk's queries. Measured on two cores with PostgreSQL
# alongside, for 1,000,000 tasks of one annotation each: about 70,000 rows/s (51,000 without
# the overlap). One query per chunk with the annotations and reviews aggregated in correlated
# subqueries, streamed with COPY or not, stays near 40,000, bound by the database (an index probe,
# an aggregate and a sort per task); formatting the plain columns in Python gives about 26,000.


def _sql_text(column: str) -> str:
    return f"COALESCE(to_json({column})::text, 'null')"


def _sql_choice(column: str, choices: type[TextChoices]) -> str:
    # A status is one of its choices, whose JSON text is known here: cheaper than to_json.
    known = " ".join(f"WHEN '{value}' THEN '{compact_json(value)}'" for value in choices.values)
    return f"CASE {column} {known} ELSE {_sql_text(column)} END"


def _sql_int(column: str) -> str:
    return f"COALESCE({column}::text, 'null')"


def _sql_float(column: str) -> str:
    # json.dumps writes a float as repr() does: the shortest text that reads back the same, as
    # float8 output does (with extra_float_digits >= 1, the default), but whole numbers as "1.0"
    # where PostgreSQL writes "1". From 1e15 up only the form differs ("1e+15"); NaN and
    # Infinity come out as json.dumps writes them.
    return (
        f"CASE WHEN {column} IS NULL THEN 'null'"
        f" WHEN {column} = trunc({column}) AND abs({column}) < 1e15::float8"
        f" THEN {column}::text || '.0' ELSE {column}::text END"
    )


def _sql_iso(column: str) -> str:
    # As `_iso`: UTC, "Z", the microseconds only when there are any (isoformat leaves them out).
    text = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"""COALESCE('"' || replace({text}, '.000000', '') || 'Z"', 'null')"""


def _sql_json(column: str) -> str:
    # The stored jsonb as text: the values, and the key order, that psycopg decodes for `_rows`
    # (jsonb keeps keys in an order of its own), with a space after each "," and ":" inside.
    return f"COALESCE({column}::text, 'null')"


def _sql_members(members: list[tuple[str, str]], *, opens: bool) -> str:
    """Return SQL concatenating `"key":value` members, starting with "{" when `opens`."""
    parts = []
    for index, (key, value) in enumerate(members):
        lead = "{" if opens and index == 0 else ","
        parts.append(f"""'{lead}"{key}":' || {value}""")
    return " || ".join(parts)


# A task's members in the order of `_task_row`: up to "meta" (the task type is a parameter),
# its "result", then up to "batch".
_TASK = "labeling_task"
_SQL_TASK_HEAD = _sql_members(
    [
        ("task_id", f"{_TASK}.id::text"),
        ("external_id", _sql_text(f"{_TASK}.external_id")),
        ("task_type", "%s"),
        ("status", _sql_choice(f"{_TASK}.status", TaskStatus)),
        ("data", _sql_json(f"{_TASK}.data")),
        ("meta", _sql_json(f"{_TASK}.meta")),
    ],
    opens=True,
)
_SQL_TASK_RESULT = _sql_json(f"{_TASK}.result")
_SQL_TASK_TAIL = _sql_members(
    [
        ("agreement", _sql_float(f"{_TASK}.agreement")),
        ("confidence", _sql_float(f"{_TASK}.confidence")),
        ("is_tie", f"{_TASK}.is_tie::text"),
        ("review_level", f"{_TASK}.review_level::text"),
        ("completed_at", _sql_iso(f"{_TASK}.completed_at")),
        ("batch", _sql_int(f"{_TASK}.import_job_id")),
    ],
    opens=False,
)
# A standard or consensus task's line up to its annotations' objects.
_SQL_TASK_START = (
    f"""{_SQL_TASK_HEAD} || ',"result":' || {_SQL_TASK_RESULT} || {_SQL_TASK_TAIL}"""
    """ || ',"annotation_id":null,"annotations":['"""
)
_ANNOTATION = "labeling_annotation"
_SQL_ANNOTATION = _sql_members(
    [
        ("annotation_id", f"{_ANNOTATION}.id::text"),
        ("annotator_id", f"{_ANNOTATION}.author_id::text"),
        ("revision", f"{_ANNOTATION}.revision::text"),
        ("status", _sql_choice(f"{_ANNOTATION}.status", AnnotationStatus)),
        ("result", _sql_json(f"{_ANNOTATION}.result")),
        ("submitted_at", _sql_iso(f"{_ANNOTATION}.submitted_at")),
        ("active_seconds", f"{_ANNOTATION}.active_seconds::text"),
        ("instructions_version", _sql_int(f"{_ANNOTATION}.instructions_version")),
        ("corrects", _sql_int(f"{_ANNOTATION}.corrects_id")),
    ],
    opens=True,
)
_REVIEW = "labeling_review"
_SQL_REVIEW = _sql_members(
    [
        ("level", f"{_REVIEW}.level::text"),
        ("verdict", _sql_choice(f"{_REVIEW}.verdict", Verdict)),
        ("reason", _sql_choice(f"{_REVIEW}.reason", RejectReason)),
        ("reviewer_id", f"{_REVIEW}.reviewer_id::text"),
        ("annotation_id", _sql_int(f"{_REVIEW}.annotation_id")),
        ("correction_id", _sql_int(f"{_REVIEW}.correction_id")),
        ("reviewed_at", _sql_iso(f"{_REVIEW}.created_at")),
    ],
    opens=True,
)
# A chunk's annotations (all, or a collection project's submissions with their id and result)
# and reviews, in the order of `_rows`; TASKS stands for the condition from `_tasks_where`. Built
# from this module's constants only: values go in as parameters.
_SQL_CHUNK_ANNOTATIONS = f"""
    SELECT task_id, {_SQL_ANNOTATION} || '}}' FROM {_ANNOTATION} WHERE TASKS
    ORDER BY task_id, submitted_at, id
"""  # noqa: S608
_SQL_CHUNK_SUBMISSIONS = f"""
    SELECT task_id, id, {_sql_json("result")}, {_SQL_ANNOTATION} || '}}' FROM {_ANNOTATION}
    WHERE TASKS AND status = ANY(%s)
    ORDER BY task_id, submitted_at, id
"""  # noqa: S608
_SQL_CHUNK_REVIEWS = f"""
    SELECT task_id, {_SQL_REVIEW} || '}}' FROM {_REVIEW} WHERE TASKS
    ORDER BY task_id, created_at, id
"""  # noqa: S608
# A chunk whose ids span at most this many times its number of tasks has its annotations and
# reviews read as one range of task ids (see `_tasks_where`).
_RANGE_SPAN = 4

_TaskRows = list[tuple[Any, ...]]


def _fast_jsonl_supported() -> bool:
    # `_jsonl_lines` needs psycopg 3 (the project's driver) on a libpq with pipeline mode (14+).
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return False
    import psycopg

    return psycopg.Pipeline.is_supported()


def _text_sql(sql: str, params: tuple[Any, ...] = ()) -> RawSQL:
    return RawSQL(sql, params, output_field=TextField())  # noqa: S611 - this module's own SQL


def _tasks_where(ids: list[int]) -> tuple[str, list[Any]]:
    """Return SQL on task_id, and its parameters, that takes in at least the tasks `ids` (sorted).

    A chunk's tasks usually have nearly consecutive ids (tasks are imported in batches): one
    range scan costs far less than probing the index for each id and planning an array of
    CHUNK_SIZE ids. Rows of other tasks in the range are left out by the caller, which looks its
    tasks up by id; tasks spread further apart are looked up by id, so the range stays small.
    """
    first, last = ids[0], ids[-1]
    if last - first < _RANGE_SPAN * len(ids):
        return "task_id BETWEEN %s AND %s", [first, last]
    return "task_id = ANY(%s::bigint[])", ["{" + ",".join(map(str, ids)) + "}"]


def _jsonl_lines(*, project: Project, filters: ExportFilters) -> Iterator[str]:
    """Yield the lines `write_jsonl` would write for `_rows`, written by PostgreSQL.

    The same rows in the same order, from the same keyset chunks and three queries a chunk (two
    for a collection project, whose rows hold no reviews); parsed, each line equals its row.

    PostgreSQL and Python work at the same time: in psycopg's pipeline mode the queries of the
    next chunk go out first, then the rows of the chunk read before are decoded and its lines put
    together. No query is left running while lines are handed on, so the caller may use the
    connection between them.
    """
    is_collection = project.pipeline == Pipeline.COLLECTION
    task_type = (compact_json(project.task_type),)
    if is_collection:
        columns = [
            _text_sql(_SQL_TASK_HEAD, task_type),
            _text_sql(_SQL_TASK_RESULT),
            _text_sql(_SQL_TASK_TAIL),
        ]
    else:
        columns = [_text_sql(_SQL_TASK_START, task_type)]
    task_rows = _tasks(project=project, filters=filters).values_list("id", *columns)
    statuses = _collection_statuses(filters)
    size = CHUNK_SIZE

    def tasks_query(after_id: int) -> tuple[str, Any]:
        # The ORM writes the filters; the rows are read with fetchall, as Django's row iteration
        # costs more than the query here.
        return task_rows.filter(id__gt=after_id).order_by("id")[:size].query.sql_with_params()

    def related_queries(ids: list[int]) -> list[tuple[str, list[Any]]]:
        where, params = _tasks_where(ids)
        if is_collection:
            return [(_SQL_CHUNK_SUBMISSIONS.replace("TASKS", where), [*params, statuses])]
        return [
            (_SQL_CHUNK_ANNOTATIONS.replace("TASKS", where), params),
            (_SQL_CHUNK_REVIEWS.replace("TASKS", where), params),
        ]

    def lines(tasks: _TaskRows, related: list[_TaskRows]) -> list[str]:
        if is_collection:
            return _collection_lines(tasks, *related, final_only=filters.final_only)
        return _standard_lines(tasks, *related)

    open_cursors: list[CursorWrapper] = []

    def send(sql: str, params: Any) -> CursorWrapper:
        cursor = connection.cursor()
        open_cursors.append(cursor)
        cursor.execute(sql, params)
        return cursor

    def read(cursor: CursorWrapper) -> _TaskRows:
        fetched = cursor.fetchall()
        cursor.close()
        open_cursors.remove(cursor)
        return fetched

    try:
        tasks: CursorWrapper | None = send(*tasks_query(0))
        done: tuple[CursorWrapper, list[CursorWrapper]] | None = None  # read, not yet written
        while tasks is not None or done is not None:
            if tasks is not None and tasks.rowcount == 0:
                read(tasks)
                tasks = None
            chunk, after, written = None, None, []
            with connection.connection.pipeline():
                if tasks is not None:
                    ids = _result_ids(tasks)
                    related = [send(*query) for query in related_queries(ids)]
                    chunk = (tasks, related)
                    if len(ids) == size:
                        after = send(*tasks_query(ids[-1]))
                if done is not None:
                    written = lines(read(done[0]), [read(cursor) for cursor in done[1]])
            done, tasks = chunk, after
            yield from written
    finally:
        for cursor in open_cursors:
            cursor.close()


def _result_ids(cursor: CursorWrapper) -> list[int]:
    # The first column of a result that has arrived, without decoding its rows yet.
    result = cursor.cursor.pgresult
    return [int(result.get_value(row, 0)) for row in range(result.ntuples)]


def _standard_lines(tasks: _TaskRows, annotations: _TaskRows, reviews: _TaskRows) -> list[str]:
    own_annotations: defaultdict[int, list[str]] = defaultdict(list)
    for task_id, text in annotations:
        own_annotations[task_id].append(text)
    own_reviews: defaultdict[int, list[str]] = defaultdict(list)
    for task_id, text in reviews:
        own_reviews[task_id].append(text)
    written = []
    for task_id, start in tasks:
        texts = own_annotations.get(task_id)
        verdicts = own_reviews.get(task_id)
        written.append(
            f'{start}{",".join(texts) if texts else ""}],"reviews":['
            f"{','.join(verdicts) if verdicts else ''}]}}\n"
        )
    return written


def _collection_lines(tasks: _TaskRows, annotations: _TaskRows, *, final_only: bool) -> list[str]:
    # As `_collection_rows`: a row per submission, holding its result, or else one empty row.
    own: defaultdict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for task_id, annotation_id, result, text in annotations:
        own[task_id].append((annotation_id, result, text))
    written = []
    for task_id, head, result, tail in tasks:
        submissions = own.get(task_id, ())
        for annotation_id, own_result, text in submissions:
            written.append(
                f'{head},"result":{own_result}{tail},"annotation_id":{annotation_id},'
                f'"annotations":[{text}],"reviews":[]}}\n'
            )
        if not submissions and not final_only:
            written.append(
                f'{head},"result":{result}{tail},"annotation_id":null,'
                '"annotations":[],"reviews":[]}\n'
            )
    return written


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
    filters = _filters_clean(
        project=project, final_only=final_only, since=since, until=until, batch_id=batch_id
    )
    return _rows(project=project, filters=filters)


def export_count(
    *,
    project: Project,
    final_only: bool = True,
    since: Any = None,
    until: Any = None,
    batch_id: Any = None,
) -> int:
    """Return how many rows `export_rows` gives for the same filters (raises like it)."""
    filters = _filters_clean(
        project=project, final_only=final_only, since=since, until=until, batch_id=batch_id
    )
    return _count(project=project, filters=filters)


def export_stream(*, project: Project, file_format: str, **filters: Any) -> Iterator[bytes]:
    """Return the export as a stream of bytes chunks in `file_format` (jsonl, csv, conll).

    Checks the format and the filters (those of `export_rows`) now; raises ValidationFailed
    naming format (CoNLL is only for NER projects), since, until or batch.
    """
    file_format = _format_clean(project=project, file_format=file_format)
    cleaned = _filters_clean(project=project, **filters)
    items, writer = _items_and_writer(project=project, filters=cleaned, file_format=file_format)
    return writer(items)


def _items_and_writer(
    *, project: Project, filters: ExportFilters, file_format: str
) -> tuple[Iterator[Any], Callable[[Iterable[Any]], Iterator[bytes]]]:
    """Return the export's items, one per row, and the writer that turns them into bytes.

    The items are the row dicts of `_rows`, or on PostgreSQL for JSON Lines the lines the
    database wrote (`_jsonl_lines`).
    """
    if file_format == "jsonl" and _fast_jsonl_supported():
        return _jsonl_lines(project=project, filters=filters), write_lines
    return _rows(project=project, filters=filters), FORMATS[file_format].writer


def export_filename(*, project: Project, file_format: str, job_id: int | None = None) -> str:
    """Return the file name an export is delivered under."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    job = f"-{job_id}" if job_id is not None else ""
    return f"project-{project.pk}-export{job}-{stamp}.{FORMATS[file_format].extension}"


@transaction.atomic
def export_job_create(
    *, project: Project, file_format: str, filters: Mapping[str, Any], actor: Any
) -> ExportJob:
    """Create an export job and run it in the background once the transaction commits.

    `filters` takes the keyword arguments of `export_rows` (final_only, since, until, batch_id).
    Raises ValidationFailed naming the bad field.
    """
    file_format = _format_clean(project=project, file_format=file_format)
    cleaned = _filters_from_mapping(project=project, filters=filters)
    job = ExportJob.objects.create(
        project=project,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        file_format=file_format,
        filters=cleaned.as_json(),
        rows_total=_count(project=project, filters=cleaned),
    )
    audit_record(
        actor=actor,
        action="export.created",
        target=job,
        after={"project": project.pk, "file_format": file_format, "filters": job.filters},
    )
    transaction.on_commit(partial(job_enqueue, EXPORT_RUN_TASK, job.pk))
    return job


def _job_start(job_id: int) -> ExportJob | None:
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.status == ExportStatus.SUCCEEDED:
            return None
        # A job found running was left by a worker that died (tasks are acked late): start over.
        job.status = ExportStatus.RUNNING
        job.rows_written = 0
        job.message = ""
        job.save(update_fields=["status", "rows_written", "message"])
        return job


def _job_fail(job_id: int, message: str) -> None:
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportStatus.FAILED, message=message[:500], finished_at=timezone.now()
    )


def export_job_run(*, job_id: int) -> ExportJob:
    """Write an export job's file, keeping `rows_written` current; then tell the customer.

    Safe to run twice: a job that already succeeded is left as it is. Failures are recorded on
    the job (status failed, with a message) and logged, not raised.
    """
    job = _job_start(job_id)
    if job is None:
        return ExportJob.objects.get(pk=job_id)
    try:
        filters = _filters_from_mapping(project=job.project, filters=job.filters)
        file_format = _format_clean(project=job.project, file_format=job.file_format)
    except ValidationFailed as error:
        _job_fail(job_id, f"The export's filters are no longer valid: {error.message}")
    else:
        try:
            _job_write(job, filters=filters, file_format=file_format)
        except Exception:
            logger.exception("export job %s failed", job_id)
            _job_fail(
                job_id, "The export failed unexpectedly; please try again or contact support."
            )
    return ExportJob.objects.get(pk=job_id)


def _job_write(job: ExportJob, *, filters: ExportFilters, file_format: str) -> None:
    project = job.project
    export_statistics_refresh(log_as=f"export job {job.pk}")
    ExportJob.objects.filter(pk=job.pk).update(rows_total=_count(project=project, filters=filters))
    written = 0
    items, writer = _items_and_writer(project=project, filters=filters, file_format=file_format)

    def counted() -> Iterator[Any]:
        # Progress is saved once per chunk of rows, so the person waiting sees it move.
        nonlocal written
        for item in items:
            yield item
            written += 1
            if written % CHUNK_SIZE == 0:
                ExportJob.objects.filter(pk=job.pk).update(rows_written=written)

    name = export_filename(project=project, file_format=file_format, job_id=job.pk)
    with tempfile.NamedTemporaryFile(prefix="quorum-export-", suffix=".part") as spool:
        for piece in writer(counted()):
            spool.write(piece)
        spool.flush()
        spool.seek(0)
        with transaction.atomic():
            job = ExportJob.objects.select_for_update().select_related("project").get(pk=job.pk)
            job.file.save(name, File(spool, name=name), save=False)
            job.status = ExportStatus.SUCCEEDED
            job.rows_total = job.rows_written = written
            job.finished_at = timezone.now()
            job.save(update_fields=["file", "status", "rows_total", "rows_written", "finished_at"])
            _emit_ready(job)


def export_statistics_refresh(*, log_as: str) -> list[str]:
    """ANALYZE the tables an export reads when they changed much since their last analysis.

    Export jobs call it before their first query: rows imported since (by many API calls, say,
    which do not analyse) would otherwise be planned as if absent, and each chunk's queries would
    crawl. Returns the tables analysed; a failure is logged, not raised.
    """
    try:
        analyzed = tables_analyze_stale([Task, Annotation, Review])
    except DatabaseError:
        logger.exception("analysing before %s failed", log_as)
        return []
    if analyzed:
        logger.info("analysed %s before %s", ", ".join(analyzed), log_as)
    return analyzed


def _emit_ready(job: ExportJob) -> None:
    # Imported here, not at the top: the webhooks service is a sibling that may import services
    # of its own, and exports must stay importable without that chain.
    from labeling.services.webhooks import webhooks_emit

    site = settings.SITE_URL.rstrip("/")
    webhooks_emit(
        customer_id=job.project.customer_id,
        event=WebhookEvent.EXPORT_READY,
        payload={
            "export_id": job.pk,
            "project_id": job.project_id,
            "file_format": job.file_format,
            "rows": job.rows_written,
            "status_url": site + reverse("labeling-export-detail", kwargs={"pk": job.pk}),
            "download_url": site + reverse("labeling-export-download", kwargs={"pk": job.pk}),
        },
    )
