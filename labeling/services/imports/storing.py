"""Storing an import's good tasks in chunks, with their gold answers and queue slots.

Duplicates (an external_id already in the project, or earlier in the same file) are skipped and
counted, never updated. On PostgreSQL each chunk is stored in a second thread on the same
connection and transaction while this thread parses and validates the next chunk: carefully (COPY
to a temporary table, then one statement that skips duplicates) or, for an import job's first try,
directly (COPY into the tables themselves; a duplicate stops the try, see `store`). Elsewhere
(SQLite) chunks go through the ORM one after the other. The first bad line stops storing (reading
and validating go on) and `store` then raises BatchRejected, so that the caller's transaction rolls
the whole batch back.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F
from django.utils import timezone
from psycopg.errors import UniqueViolation

from labeling.bulk import (
    COPY_NULL,
    WriteBehind,
    bulk_insert,
    copy_row_format,
    copy_supported,
    copy_text,
    copy_text_write,
    dump_json,
    ids_reserve,
    insert_select_sql,
    references_checked_per_statement,
)
from labeling.models import GoldAnswer, ImportJob, Project, SlotKind, SlotState, Task, WorkSlot
from labeling.queue_order import slot_order_keys
from labeling.services.gold import gold_live_count_forget
from labeling.services.imports.validation import BatchRejected, CleanTask, ImportOutcome

CHUNK_SIZE = 2_000
# PostgreSQL stores larger chunks: each chunk costs a few round trips, and the write-behind thread
# waits for the interpreter lock after each of them while this thread validates the next chunk.
COPY_CHUNK_SIZE = 10_000
FIRST_CHUNK_SIZE = 1_000


# --- Storing, SQLite and other databases: through the ORM, chunk by chunk ---------------------


def _first_of_each_external_id(chunk: list[CleanTask]) -> list[CleanTask]:
    """The chunk without the lines whose external id an earlier line of it has (the first line
    wins, on every path)."""
    seen: set[str] = set()
    kept = []
    for task in chunk:
        if task.external_id is not None:
            if task.external_id in seen:
                continue
            seen.add(task.external_id)
        kept.append(task)
    return kept


def _insert_chunk(
    project: Project, job: ImportJob | None, outcome: ImportOutcome, chunk: list[CleanTask]
) -> None:
    """Store one chunk through the ORM: skip duplicates, then insert tasks, gold answers, slots."""
    first = _first_of_each_external_id(chunk)
    ids = [t.external_id for t in first if t.external_id is not None]
    existing = (
        set(
            Task.objects.filter(project=project, external_id__in=ids).values_list(
                "external_id", flat=True
            )
        )
        if ids
        else set()
    )
    fresh = [t for t in first if t.external_id is None or t.external_id not in existing]
    outcome.duplicates += len(chunk) - len(fresh)
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
    ids: list[int]  # task ids reserved for the chunks to come (`_IdPool`)


class _IdPool:
    """Task ids taken from the sequence before their chunk is written, in increasing order, so
    that this thread gives a chunk's tasks their ids and queue keys and writes its whole COPY
    text while the write-behind thread stores the chunk before. The connection is that thread's
    meanwhile, so each write also reserves `ahead` ids for the chunks to come (an import job:
    one largest chunk's worth); with `ahead` 0 (tasks posted by API, one chunk) ids are taken
    exactly when the chunk is written. Ids reserved ahead and not used (at most two chunks'
    worth, at the end of a job's file) are a gap in the sequence, as a rolled-back insert
    leaves one."""

    def __init__(self, ahead: int) -> None:
        self.ahead = ahead
        self._ids: list[int] = []

    @property
    def available(self) -> int:
        return len(self._ids)

    def add(self, ids: list[int]) -> None:
        self._ids.extend(ids)

    def take(self, count: int) -> list[int]:
        taken, self._ids = self._ids[:count], self._ids[count:]
        return taken


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


class _StagedRow(NamedTuple):
    """A task ready for the staging table: whether it is gold, and its columns after the id and
    order keys (which `_copy_chunk` puts in front) as COPY text, with the row's newline."""

    is_gold: bool
    text: str


class _TaskTexts(NamedTuple):
    """A task's own values as COPY text, for the staging table and for the tables themselves."""

    external_id: str
    data: str
    meta: str
    pre_annotation: str
    priority: str
    gold: str | None  # None: not a gold task


def _task_texts(task: CleanTask) -> _TaskTexts:
    pre, gold = task.pre_annotation, task.gold
    return _TaskTexts(
        copy_text(task.external_id),
        copy_text(dump_json(task.data)),
        copy_text(dump_json(task.meta)),
        COPY_NULL if pre is None else copy_text(dump_json(pre)),
        str(task.priority),
        None if gold is None else copy_text(dump_json(gold)),
    )


def _stage_row(task: CleanTask) -> _StagedRow:
    texts = _task_texts(task)
    columns = (str(task.line), *texts[:5], COPY_NULL if texts.gold is None else texts.gold)
    return _StagedRow(is_gold=texts.gold is not None, text="\t".join(columns) + "\n")


def _order_keys_text(plan: _CopyPlan, task_id: int) -> str:
    keys = slot_order_keys(
        order=plan.queue_order,
        task_id=task_id,
        count=plan.overlap,
        batch_at=plan.batch_at,
        rng=plan.rng,
    )
    return "{" + ",".join(map(str, keys)) + "}"


def _chunk_text(plan: _CopyPlan, ids: list[int], rows: list[_StagedRow]) -> str:
    """The staging table's COPY text of a chunk whose tasks get `ids`."""
    return "".join(
        f"{task_id}\t{COPY_NULL if row.is_gold else _order_keys_text(plan, task_id)}\t{row.text}"
        for task_id, row in zip(ids, rows, strict=True)
    )


def _copy_chunk(plan: _CopyPlan, text: str, count: int, ahead: int, cursor: Any) -> _Stored:
    """Store one chunk of `count` staged rows (runs in the write-behind thread, on a raw cursor)
    and reserve `ahead` task ids for the chunks to come."""
    copy_text_write(cursor, _STAGE, _STAGE_COLUMNS, text)
    cursor.execute(plan.sql, plan.params)
    created, gold = cursor.fetchone()
    cursor.execute(f"TRUNCATE {_STAGE}")
    ids = ids_reserve(cursor, plan.task_table, "id", ahead) if ahead else []
    return _Stored(created=created, gold=gold, duplicates=count - created - gold, ids=ids)


# --- Storing, PostgreSQL, directly: each chunk COPied into the tables themselves ---------------
#
# An import job tries this first: no staging table and no statement per chunk, so PostgreSQL only
# stores rows (bench/queue.py's import: README). A COPY cannot skip a duplicate, so the per-project
# external id constraint refuses a chunk that repeats an id already stored (by an earlier chunk,
# an earlier import or another writer meanwhile): `ExternalIdConflict` then rolls the try back and
# the job stores its file carefully instead (`labeling.services.imports.batches`). Repeats inside
# one chunk are dropped here, as the careful path drops them (the first line wins).

# The per-project external id constraint (Task.Meta), whose conflicts an import skips.
EXTERNAL_ID_UNIQUE = "labeling_task_external_id_unique_per_project"


class ExternalIdConflict(Exception):
    """A direct import met an external id already stored in the project (`store(careful=False)`);
    its transaction is lost, and the import must be stored again carefully."""


@dataclass(frozen=True)
class _DirectPlan:
    """Rows of one import for the tables themselves: column lists and row templates."""

    task_columns: list[str]
    # {0} id, {1} external id, {2} data, {3} meta, {4} pre-annotation, {5} priority, {6} is gold
    task_row: str
    answer_columns: list[str]
    answer_row: str  # {0} task id, {1} result
    slot_columns: list[str]
    slot_row: str  # {0} task id, {1} priority, {2} order key
    # The import's time, the project's queue order and overlap, and the shuffle, for the slots'
    # keys (`slot_order_keys`, as on the careful path)
    keys: _CopyPlan


def _direct_plan(project: Project, job: ImportJob | None, keys: _CopyPlan) -> _DirectPlan:
    now = keys.batch_at
    task_columns, task_row = copy_row_format(
        Task,
        ("id", "external_id", "data", "meta", "pre_annotation", "priority", "is_gold"),
        {"project_id": project.pk, "import_job_id": job.pk if job else None, "created_at": now},
    )
    answer_columns, answer_row = copy_row_format(
        GoldAnswer, ("task_id", "result"), {"created_at": now, "updated_at": now}
    )
    slot_columns, slot_row = copy_row_format(
        WorkSlot,
        ("task_id", "priority", "order_key"),
        {
            "project_id": project.pk,
            "kind": SlotKind.ANNOTATE.value,
            "level": 0,
            "state": SlotState.OPEN.value,
        },
    )
    return _DirectPlan(
        task_columns, task_row, answer_columns, answer_row, slot_columns, slot_row, keys
    )


class _DirectChunk(NamedTuple):
    """One chunk's COPY text for each table, and its counts."""

    tasks: str
    answers: str
    slots: str
    created: int  # tasks to label
    gold: int
    duplicates: int  # lines whose external id an earlier line of the chunk has


def _direct_chunk(
    plan: _DirectPlan, ids: list[int], chunk: list[CleanTask], count: int
) -> _DirectChunk:
    """The tables' COPY text of `chunk` (each external id once), whose tasks get `ids`; `count`
    lines were read for it."""
    tasks: list[str] = []
    answers: list[str] = []
    slots: list[str] = []
    keys = plan.keys
    for task_id, task in zip(ids, chunk, strict=True):
        texts = _task_texts(task)
        gold = texts.gold is not None
        tasks.append(plan.task_row.format(task_id, *texts[:5], "t" if gold else "f"))
        if gold:
            answers.append(plan.answer_row.format(task_id, texts.gold))
            continue
        for key in slot_order_keys(
            order=keys.queue_order,
            task_id=task_id,
            count=keys.overlap,
            batch_at=keys.batch_at,
            rng=keys.rng,
        ):
            slots.append(plan.slot_row.format(task_id, texts.priority, key))
    return _DirectChunk(
        "".join(tasks),
        "".join(answers),
        "".join(slots),
        created=len(chunk) - len(answers),
        gold=len(answers),
        duplicates=count - len(chunk),
    )


def _copy_direct(plan: _DirectPlan, chunk: _DirectChunk, ahead: int, cursor: Any) -> _Stored:
    """Store one chunk in the tables themselves (in the write-behind thread, on a raw cursor) and
    reserve `ahead` task ids for the chunks to come."""
    try:
        copy_text_write(cursor, Task._meta.db_table, plan.task_columns, chunk.tasks)
    except UniqueViolation as exc:
        if exc.diag.constraint_name == EXTERNAL_ID_UNIQUE:
            raise ExternalIdConflict(str(exc)) from exc
        raise
    if chunk.answers:
        copy_text_write(cursor, GoldAnswer._meta.db_table, plan.answer_columns, chunk.answers)
    if chunk.slots:
        copy_text_write(cursor, WorkSlot._meta.db_table, plan.slot_columns, chunk.slots)
    ids = ids_reserve(cursor, plan.keys.task_table, "id", ahead) if ahead else []
    return _Stored(chunk.created, chunk.gold, chunk.duplicates, ids)


def _count(project: Project, outcome: ImportOutcome, stored: _Stored | None, pool: _IdPool) -> None:
    if stored is None:
        return
    pool.add(stored.ids)
    outcome.created += stored.created + stored.gold
    outcome.duplicates += stored.duplicates
    if stored.gold:
        outcome.gold += stored.gold
        gold_live_count_forget(project.pk)


@contextmanager
def _chunk_writer(
    project: Project,
    job: ImportJob | None,
    outcome: ImportOutcome,
    own_transaction: bool,
    careful: bool,
) -> Iterator[Callable[[list[CleanTask]], None]]:
    """Yield the function that stores one chunk; the counts in `outcome` are final on exit."""
    if not copy_supported():
        yield partial(_insert_chunk, project, job, outcome)
        return
    plan = _copy_plan(project, job)
    direct = None if careful else _direct_plan(project, job, plan)
    if careful:
        with connection.cursor() as cursor:
            cursor.execute(_STAGE_CREATE)
            cursor.execute(f"TRUNCATE {_STAGE}")
    # A job's import, in its own transaction, has each chunk's references checked by the chunk's
    # own statement while this thread validates the next chunk, instead of a million at the
    # commit after the last chunk with nothing else to do (bench/queue.py's import: README).
    checks = (
        references_checked_per_statement([Task, WorkSlot, GoldAnswer])
        if own_transaction
        else nullcontext()
    )
    pool = _IdPool(ahead=COPY_CHUNK_SIZE if own_transaction else 0)
    with checks, WriteBehind[_Stored]() as writes:

        def write(chunk: list[CleanTask]) -> None:
            count = len(chunk)
            if direct is not None:  # a COPY into the table takes each external id once
                chunk = _first_of_each_external_id(chunk)
            if pool.available < len(chunk):  # the first chunk (no write runs), or without `ahead`
                _count(project, outcome, writes.drain(), pool)
                with connection.cursor() as cursor:
                    need = len(chunk) - pool.available + pool.ahead
                    pool.add(ids_reserve(cursor.cursor, plan.task_table, "id", need))
            ids = pool.take(len(chunk))
            if direct is not None:
                texts = _direct_chunk(direct, ids, chunk, count)
                stored = writes.submit(partial(_copy_direct, direct, texts, pool.ahead))
            else:
                text = _chunk_text(plan, ids, [_stage_row(task) for task in chunk])
                stored = writes.submit(partial(_copy_chunk, plan, text, count, pool.ahead))
            _count(project, outcome, stored, pool)

        yield write
        _count(project, outcome, writes.drain(), pool)


def store(
    project: Project,
    job: ImportJob | None,
    tasks: Iterable[CleanTask],
    outcome: ImportOutcome,
    on_chunk: Callable[[], None] | None = None,
    *,
    own_transaction: bool = False,
    careful: bool = True,
) -> None:
    """Insert the good tasks in chunks; stop inserting (but keep validating) after the first error.

    Raises BatchRejected when any line was bad, for the caller's transaction to roll back.
    `own_transaction`: the caller's transaction holds this import alone (an import job), so the
    references of each chunk may be checked as it is stored (nothing else of the transaction is
    pending); otherwise they are checked at the commit, as every other write's.
    `careful=False` (PostgreSQL; elsewhere ignored): chunks are COPied into the tables directly,
    and an external id already in the project raises ExternalIdConflict (the caller's transaction
    is then lost: store again carefully in a new one).
    """
    largest = COPY_CHUNK_SIZE if copy_supported() else CHUNK_SIZE
    # Small chunks first, so that the database starts work early; then up to the largest.
    size = min(FIRST_CHUNK_SIZE, largest)
    with _chunk_writer(project, job, outcome, own_transaction, careful) as write:
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
        raise BatchRejected()
    # Gold tasks are stored and counted as created, but progress counts only the tasks to label.
    Project.objects.filter(pk=project.pk).update(
        tasks_total=F("tasks_total") + outcome.created - outcome.gold
    )
