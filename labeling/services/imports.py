"""Imports: tasks arrive in batches that are stored whole or not at all.

One streaming pass: records are validated as they are read and inserted in chunks inside one
transaction; the first bad line stops insertion but reading goes on so that the report names every
bad line; any error rolls the whole batch back. Memory holds one chunk, whatever the file size.
Duplicates (an external_id already in the project, or earlier in the same file) are skipped and
counted, never updated. Progress goes to the cache, because the batch's own transaction is invisible
to others until it ends.

On PostgreSQL each chunk is COPied to a temporary table and stored by one statement, in a second
thread on the same connection and transaction, while this thread parses and validates the next
chunk; elsewhere (SQLite) chunks go through the ORM one after the other.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import ValidationFailed
from kit.label_schema import LabelSchema, SchemaError, validate_result, validate_task_data
from labeling.bulk import (
    WriteBehind,
    bulk_insert,
    copy_rows,
    copy_supported,
    dump_json,
    insert_select_sql,
    tables_analyze_stale,
)
from labeling.enqueue import job_enqueue
from labeling.models import (
    GoldAnswer,
    ImportJob,
    ImportSource,
    ImportStatus,
    Project,
    SlotKind,
    SlotState,
    Task,
    WorkSlot,
)
from labeling.queue_order import slot_order_keys
from labeling.services.gold import gold_live_count_forget

# The name of the job that runs an import (labeling.jobs.imports).
IMPORT_RUN_TASK = "labeling.tasks.import_run"
FORMATS = ("jsonl", "csv", "json")
CHUNK_SIZE = 2_000
# PostgreSQL stores larger chunks: each chunk costs a few round trips, and the write-behind thread
# waits for the interpreter lock after each of them while this thread validates the next chunk.
COPY_CHUNK_SIZE = 10_000
FIRST_CHUNK_SIZE = 1_000
MAX_STORED_ERRORS = 1_000
MAX_API_TASKS = 1_000
# A job still "running" after this long belongs to a worker that died; it may be run again.
RUNNING_IS_STALE_AFTER = timedelta(hours=2)

logger = logging.getLogger(__name__)


class _BatchRejected(Exception):
    """Raised inside the batch transaction to roll it back when any line was bad."""


@dataclass
class ImportOutcome:
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


def _progress_key(job_id: int) -> str:
    return f"labeling:import:{job_id}:progress"


def import_progress(job: ImportJob) -> dict[str, Any]:
    """Return what the person waiting should see: counts so far and the share read."""
    live = cache.get(_progress_key(job.pk)) if job.status == ImportStatus.RUNNING else None
    data: dict[str, Any] = {
        "lines_read": job.lines_read,
        "tasks_created": job.tasks_created,
        "duplicates": job.duplicates,
        "error_count": job.error_count,
        "processed_bytes": job.processed_bytes,
    }
    if live:
        data.update(live)
    total = job.total_bytes
    if job.status == ImportStatus.SUCCEEDED:
        data["progress"] = 1.0
    elif total:
        data["progress"] = round(min(1.0, data["processed_bytes"] / total), 4)
    else:
        data["progress"] = None
    return data


def _guess_format(name: str, given: str | None) -> str:
    fmt = (given or PurePosixPath(name.split("?")[0]).suffix.lstrip(".")).lower()
    if fmt == "ndjson":
        fmt = "jsonl"
    if fmt not in FORMATS:
        raise ValidationFailed(
            f"format: Say which format the file is in: {', '.join(FORMATS)}.",
            fields={"format": [f"One of {', '.join(FORMATS)} (from the file name or given)."]},
        )
    return fmt


def _job_create(**values: Any) -> ImportJob:
    job = ImportJob.objects.create(**values)
    audit_record(
        actor=values.get("created_by"),
        action="import.created",
        target=job,
        after={"project": job.project_id, "source_kind": job.source_kind, "source": job.source},
    )
    transaction.on_commit(partial(job_enqueue, IMPORT_RUN_TASK, job.pk))
    return job


@transaction.atomic
def import_create_from_upload(
    *, project: Project, upload: UploadedFile, actor: User | None, file_format: str | None = None
) -> ImportJob:
    """Keep the uploaded file and start importing it in the background."""
    name = upload.name or "upload"
    fmt = _guess_format(name, file_format)
    return _job_create(
        project=project,
        created_by=actor,
        source_kind=ImportSource.UPLOAD,
        source=name[:1000],
        file=upload,
        file_format=fmt,
        total_bytes=upload.size,
    )


@transaction.atomic
def import_create_from_location(
    *, project: Project, location: str, actor: User | None, file_format: str | None = None
) -> ImportJob:
    """Start importing from an http(s) URL or a cloud object URI (s3://, gs://, azure://)."""
    location = location.strip()
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if scheme in ("http", "https"):
        kind = ImportSource.URL
    elif scheme in ("s3", "gs", "azure"):
        kind = ImportSource.CLOUD
    else:
        raise ValidationFailed(
            "url: Give an http(s) URL or an s3://, gs:// or azure:// object URI.",
            fields={"url": ["Use http(s)://, s3://, gs:// or azure://."]},
        )
    if len(location) > 1000:
        raise ValidationFailed(
            "url: At most 1000 characters.", fields={"url": ["At most 1000 characters."]}
        )
    fmt = _guess_format(location, file_format)
    return _job_create(
        project=project, created_by=actor, source_kind=kind, source=location, file_format=fmt
    )


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


def _validated_tasks(
    project: Project, records: Iterable[tuple[int, Any]], outcome: ImportOutcome
) -> Iterator[CleanTask]:
    """Yield the clean values of good records; note each bad one in `outcome`."""
    from labeling.parsers.records import ParseError
    from labeling.services.queue import label_schema_of

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


# --- Storing, SQLite and other databases: through the ORM, chunk by chunk ---------------------


def _insert_chunk(
    project: Project, job: ImportJob | None, outcome: ImportOutcome, chunk: list[CleanTask]
) -> None:
    """Store one chunk through the ORM: skip duplicates, then insert tasks, gold answers, slots."""
    ids = [t.external_id for t in chunk if t.external_id is not None]
    existing = (
        set(
            Task.objects.filter(project=project, external_id__in=ids).values_list(
                "external_id", flat=True
            )
        )
        if ids
        else set()
    )
    fresh: list[CleanTask] = []
    seen: set[str] = set()
    for task in chunk:
        if task.external_id is not None:
            if task.external_id in existing or task.external_id in seen:
                outcome.duplicates += 1
                continue
            seen.add(task.external_id)
        fresh.append(task)
    if not fresh:
        return
    now = timezone.now()
    job_id = job.pk if job is not None else None
    task_ids = bulk_insert(
        Task,
        [
            {
                "project_id": project.pk,
                "import_job_id": job_id,
                "external_id": t.external_id,
                "data": t.data,
                "meta": t.meta,
                "pre_annotation": t.pre_annotation,
                "priority": t.priority,
                "is_gold": t.gold is not None,
                "created_at": now,
            }
            for t in fresh
        ],
        return_ids=True,
    )
    answers = [
        {"task_id": task_id, "result": t.gold, "created_at": now, "updated_at": now}
        for task_id, t in zip(task_ids, fresh, strict=True)
        if t.gold is not None
    ]
    if answers:
        # Gold tasks get their hidden answer and no queue slots: the gold mix serves them.
        bulk_insert(GoldAnswer, answers)
        outcome.gold += len(answers)
        gold_live_count_forget(project.pk)
    slots = [
        {
            "project_id": project.pk,
            "task_id": task_id,
            "kind": SlotKind.ANNOTATE.value,
            "level": 0,
            "state": SlotState.OPEN.value,
            "priority": t.priority,
            "order_key": order_key,
        }
        for task_id, t in zip(task_ids, fresh, strict=True)
        if t.gold is None
        for order_key in slot_order_keys(
            order=project.queue_order, task_id=task_id, count=project.overlap, batch_at=now
        )
    ]
    bulk_insert(WorkSlot, slots)
    outcome.created += len(fresh)


# --- Storing, PostgreSQL: COPY to a staging table, then one statement per chunk ---------------
#
# Each chunk is copied into a temporary table (no indexes, no WAL) and one statement does the
# rest in the database: it skips duplicates with ON CONFLICT on the per-project external id
# constraint (earlier lines of the file win, as they are inserted first), inserts the tasks, the
# gold answers and the work slots, and returns the counts. That runs in a second thread while
# this one parses and validates the next chunk.

_STAGE = "labeling_import_stage"
_STAGE_COLUMNS = (
    "id",
    "order_keys",
    "line",
    "external_id",
    "data",
    "meta",
    "pre_annotation",
    "priority",
    "gold",
)
# Task ids are taken from the sequence before the chunk is staged, so that each task's slots get
# their queue keys from `slot_order_keys`, as on every other path that makes slots.
_STAGE_CREATE = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (
    id bigint NOT NULL, order_keys bigint[], line integer NOT NULL, external_id text,
    data jsonb NOT NULL, meta jsonb NOT NULL, pre_annotation jsonb, priority integer NOT NULL,
    gold jsonb
) ON COMMIT DROP
"""


class _Stored(NamedTuple):
    created: int  # tasks to label; gold tasks are counted apart
    gold: int
    duplicates: int


@dataclass(frozen=True)
class _CopyPlan:
    """The statement that stores one staged chunk, and its parameters."""

    sql: str
    params: dict[str, Any]
    task_table: str  # whose sequence gives the staged tasks their ids
    queue_order: str
    overlap: int
    batch_at: datetime
    rng: random.Random


def _copy_plan(project: Project, job: ImportJob | None) -> _CopyPlan:
    task_table = Task._meta.db_table
    task_columns, task_values, task_params = insert_select_sql(
        Task,
        {
            "id": "src.id",
            "project_id": "%(project)s",
            "import_job_id": "%(job)s::bigint",
            "external_id": "src.external_id",
            "data": "src.data",
            "meta": "src.meta",
            "pre_annotation": "src.pre_annotation",
            "priority": "src.priority",
            "is_gold": "src.gold IS NOT NULL",
            "created_at": "%(now)s",
        },
    )
    answer_columns, answer_values, answer_params = insert_select_sql(
        GoldAnswer,
        {
            "task_id": "src.id",
            "result": "src.gold",
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
        },
    )
    slot_columns, slot_values, slot_params = insert_select_sql(
        WorkSlot,
        {
            "project_id": "%(project)s",
            "task_id": "new_tasks.id",
            "kind": "%(slot_kind)s",
            "level": "0",
            "state": "%(slot_state)s",
            "priority": "new_tasks.priority",
            "order_key": "slot_key",
        },
    )
    sql = f"""
WITH src AS MATERIALIZED (SELECT * FROM {_STAGE}),
new_tasks AS (
    INSERT INTO {task_table} ({task_columns})
    SELECT {task_values} FROM src ORDER BY src.id
    ON CONFLICT (project_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING id, priority, is_gold
),
new_answers AS (
    INSERT INTO {GoldAnswer._meta.db_table} ({answer_columns})
    SELECT {answer_values} FROM new_tasks JOIN src ON src.id = new_tasks.id
    WHERE new_tasks.is_gold
),
new_slots AS (
    INSERT INTO {WorkSlot._meta.db_table} ({slot_columns})
    SELECT {slot_values}
    FROM new_tasks JOIN src ON src.id = new_tasks.id CROSS JOIN unnest(src.order_keys) AS slot_key
    WHERE NOT new_tasks.is_gold
)
SELECT count(*) FILTER (WHERE NOT is_gold), count(*) FILTER (WHERE is_gold) FROM new_tasks
"""  # noqa: S608 - names and expressions come from the models, values are parameters
    now = timezone.now()
    params = {
        **task_params,
        **answer_params,
        **slot_params,
        "project": project.pk,
        "job": job.pk if job is not None else None,
        "now": now,
        "slot_kind": SlotKind.ANNOTATE.value,
        "slot_state": SlotState.OPEN.value,
    }
    return _CopyPlan(
        sql=sql,
        params=params,
        task_table=task_table,
        queue_order=project.queue_order,
        overlap=project.overlap,
        batch_at=now,
        rng=random.Random(),  # noqa: S311 - seeded from the system's source; shuffles, no secret
    )


def _stage_row(task: CleanTask) -> tuple[Any, ...]:
    """A staged task without its id and order keys, which `_copy_chunk` puts in front."""
    pre, gold = task.pre_annotation, task.gold
    return (
        task.line,
        task.external_id,
        dump_json(task.data),
        dump_json(task.meta),
        None if pre is None else dump_json(pre),
        task.priority,
        None if gold is None else dump_json(gold),
    )


def _copy_chunk(plan: _CopyPlan, rows: list[tuple[Any, ...]], cursor: Any) -> _Stored:
    """Store one chunk of staged rows (runs in the write-behind thread, on a raw cursor)."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        (plan.task_table, len(rows)),
    )
    ids = sorted(row[0] for row in cursor.fetchall())
    gold_at = _STAGE_COLUMNS.index("gold") - 2  # `rows` come without id and order keys
    staged = (
        (
            task_id,
            None
            if row[gold_at] is not None
            else slot_order_keys(
                order=plan.queue_order,
                task_id=task_id,
                count=plan.overlap,
                batch_at=plan.batch_at,
                rng=plan.rng,
            ),
            *row,
        )
        for task_id, row in zip(ids, rows, strict=True)
    )
    copy_rows(cursor, _STAGE, _STAGE_COLUMNS, staged)
    cursor.execute(plan.sql, plan.params)
    created, gold = cursor.fetchone()
    cursor.execute(f"TRUNCATE {_STAGE}")
    return _Stored(created=created, gold=gold, duplicates=len(rows) - created - gold)


def _count(project: Project, outcome: ImportOutcome, stored: _Stored | None) -> None:
    if stored is None:
        return
    outcome.created += stored.created + stored.gold
    outcome.duplicates += stored.duplicates
    if stored.gold:
        outcome.gold += stored.gold
        gold_live_count_forget(project.pk)


@contextmanager
def _chunk_writer(
    project: Project, job: ImportJob | None, outcome: ImportOutcome
) -> Iterator[Callable[[list[CleanTask]], None]]:
    """Yield the function that stores one chunk; the counts in `outcome` are final on exit."""
    if not copy_supported():
        yield partial(_insert_chunk, project, job, outcome)
        return
    plan = _copy_plan(project, job)
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_CREATE)
        cursor.execute(f"TRUNCATE {_STAGE}")
    with WriteBehind[_Stored]() as writes:

        def write(chunk: list[CleanTask]) -> None:
            rows = [_stage_row(task) for task in chunk]
            _count(project, outcome, writes.submit(partial(_copy_chunk, plan, rows)))

        yield write
        _count(project, outcome, writes.drain())


def _store(
    project: Project,
    job: ImportJob | None,
    tasks: Iterable[CleanTask],
    outcome: ImportOutcome,
    on_chunk: Callable[[], None] | None = None,
) -> None:
    """Insert the good tasks in chunks; stop inserting (but keep validating) after the first error."""
    largest = COPY_CHUNK_SIZE if copy_supported() else CHUNK_SIZE
    # Small chunks first, so that the database starts work early; then up to the largest.
    size = min(FIRST_CHUNK_SIZE, largest)
    with _chunk_writer(project, job, outcome) as write:
        chunk: list[CleanTask] = []
        for task in tasks:
            if outcome.error_count:
                continue
            chunk.append(task)
            if len(chunk) >= size:
                write(chunk)
                chunk = []
                size = min(size * 2, largest)
                if on_chunk:
                    on_chunk()
        if chunk and not outcome.error_count:
            write(chunk)
    if outcome.error_count:
        raise _BatchRejected()
    # Gold tasks are stored and counted as created, but progress counts only the tasks to label.
    Project.objects.filter(pk=project.pk).update(
        tasks_total=F("tasks_total") + outcome.created - outcome.gold
    )


def tasks_create(*, project: Project, tasks: list[Any], actor: User | None) -> ImportOutcome:
    """Add up to 1,000 tasks posted by API, at once: all of them, or none with a report."""
    if not isinstance(tasks, list) or not tasks:
        raise ValidationFailed(
            "tasks: Give a non-empty list of tasks.", fields={"tasks": ["A non-empty list."]}
        )
    if len(tasks) > MAX_API_TASKS:
        raise ValidationFailed(
            f"tasks: At most {MAX_API_TASKS} tasks per call; upload a file for more.",
            fields={"tasks": [f"At most {MAX_API_TASKS}."]},
        )
    from labeling.parsers.records import normalise_record

    outcome = ImportOutcome()
    records = (normalise_record(item, line=i) for i, item in enumerate(tasks, start=1))
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                project=project,
                created_by=actor,
                source_kind=ImportSource.API,
                source="api",
                file_format="json",
                status=ImportStatus.RUNNING,
                started_at=timezone.now(),
            )
            _store(project, job, _validated_tasks(project, records, outcome), outcome)
            _finish(job, outcome, ImportStatus.SUCCEEDED)
    except _BatchRejected:
        raise ValidationFailed(
            f"{outcome.error_count} task(s) are not valid; nothing was stored.",
            fields={
                f"tasks[{e['line'] - 1}]" + (f".{e['field']}" if e["field"] else ""): [e["message"]]
                for e in outcome.errors
            },
        ) from None
    return outcome


def _finish(job: ImportJob, outcome: ImportOutcome, status: str, message: str = "") -> None:
    job.status = status
    job.lines_read = outcome.lines_read
    job.tasks_created = outcome.created if status == ImportStatus.SUCCEEDED else 0
    job.duplicates = outcome.duplicates
    job.error_count = outcome.error_count
    job.errors = outcome.errors
    job.processed_bytes = outcome.processed_bytes or job.processed_bytes
    job.finished_at = timezone.now()
    if not message:
        if status == ImportStatus.SUCCEEDED:
            message = f"Imported {outcome.created} task(s)."
            if outcome.gold:
                message = f"Imported {outcome.created} task(s), {outcome.gold} of them gold."
            if outcome.duplicates:
                message += f" {outcome.duplicates} line(s) had an external_id already in the project; they were left unchanged."
        else:
            message = f"{outcome.error_count} line(s) are not valid; nothing was imported."
    job.message = message[:500]
    job.save()


def import_run(*, job_id: int) -> ImportJob:
    """Read, validate and store one import job; safe to run again (a finished job is left alone)."""
    from labeling.parsers.reading import iter_records
    from labeling.sources.opening import open_source
    from labeling.sources.streams import SourceError

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
            return job
        if (
            job.status == ImportStatus.RUNNING
            and job.started_at is not None
            and timezone.now() - job.started_at < RUNNING_IS_STALE_AFTER
        ):
            return (
                job  # another worker has it (a duplicate delivery); a crashed run is retaken later
            )
        job.status, job.started_at = ImportStatus.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])
    project = job.project
    outcome = ImportOutcome()
    kind = (
        "upload"
        if job.source_kind == ImportSource.UPLOAD
        else ("url" if job.source_kind == ImportSource.URL else "cloud")
    )
    location = job.file.path if job.source_kind == ImportSource.UPLOAD else job.source
    try:
        with open_source(
            kind, location, max_bytes=settings.IMPORT_MAX_BYTES, timeout=settings.IMPORT_URL_TIMEOUT
        ) as (stream, total):
            if total and total != job.total_bytes:
                ImportJob.objects.filter(pk=job.pk).update(total_bytes=total)
                job.total_bytes = total

            def report() -> None:
                outcome.processed_bytes = stream.bytes_read
                cache.set(
                    _progress_key(job.pk),
                    {
                        "lines_read": outcome.lines_read,
                        "tasks_created": outcome.created,
                        "duplicates": outcome.duplicates,
                        "error_count": outcome.error_count,
                        "processed_bytes": stream.bytes_read,
                    },
                    timeout=3600,
                )

            with transaction.atomic():
                _store(
                    project,
                    job,
                    _validated_tasks(project, iter_records(stream, job.file_format), outcome),
                    outcome,
                    on_chunk=report,
                )
                outcome.processed_bytes = stream.bytes_read
                _finish(job, outcome, ImportStatus.SUCCEEDED)
    except _BatchRejected:
        _finish(job, outcome, ImportStatus.FAILED)
    except SourceError as exc:
        _finish(job, outcome, ImportStatus.FAILED, message=exc.message)
    except Exception:
        logger.exception("import %s stopped by an internal error", job.pk)
        _finish(
            job,
            outcome,
            ImportStatus.FAILED,
            message="The import stopped because of an internal error; nothing was imported. "
            "Try again, and tell the operators if it happens again.",
        )
        raise
    finally:
        cache.delete(_progress_key(job.pk))
    if job.status == ImportStatus.SUCCEEDED:
        _statistics_refresh(project, outcome)
    _announce(job)
    return job


def _statistics_refresh(project: Project, outcome: ImportOutcome) -> None:
    """ANALYZE the tables a committed import filled, when it changed enough of them."""
    to_label = outcome.created - outcome.gold
    try:
        analyzed = tables_analyze_stale(
            [Task, WorkSlot, GoldAnswer],
            changed={
                Task: outcome.created,
                WorkSlot: to_label * project.overlap,
                GoldAnswer: outcome.gold,
            },
        )
    except DatabaseError:
        # The tasks are stored; autovacuum will analyse later, so the import still succeeds.
        logger.exception("analysing after import into project %s failed", project.pk)
        return
    if analyzed:
        logger.info("analysed %s after an import into project %s", ", ".join(analyzed), project.pk)


def _announce(job: ImportJob) -> None:
    from labeling.services.webhooks import webhooks_emit

    with transaction.atomic():
        webhooks_emit(
            customer_id=job.project.customer_id,
            event="import.finished",
            payload={
                "import_id": job.pk,
                "project_id": job.project_id,
                "status": job.status,
                "tasks_created": job.tasks_created,
                "duplicates": job.duplicates,
                "error_count": job.error_count,
                "message": job.message,
            },
        )
