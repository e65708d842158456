"""Fast bulk inserts: PostgreSQL COPY for the big writes (imports), `bulk_create` elsewhere.

Building an INSERT through the ORM costs far more than the database's own work for large batches
(each value passes through field preparation and client-side quoting). On PostgreSQL the rows go
through `COPY ... FROM STDIN` instead, with their ids reserved first from the table's sequence, so
callers still learn the ids. Rows are plain dicts keyed by field attname; fields left out take
their model default. Call inside the caller's transaction: COPY joins it.

For the largest writes (imports), `WriteBehind` runs the database work of one batch in a second
thread on the same connection and transaction while the caller prepares the next batch: the
PostgreSQL side runs in its own process, so the two really proceed at once.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime
from types import TracebackType
from typing import Any, Generic, TypeVar

from django.db import connection, models
from psycopg.pq import TransactionStatus

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

T = TypeVar("T")


def copy_supported() -> bool:
    return connection.vendor == "postgresql"


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def bulk_insert(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, return_ids: bool = False
) -> list[int]:
    """Insert `rows` of `model` in one COPY (PostgreSQL) or a bulk_create; return their ids in
    order when `return_ids` (otherwise an empty list)."""
    if not rows:
        return []
    if not copy_supported():
        created = model._default_manager.bulk_create([model(**row) for row in rows])
        return [int(obj.pk) for obj in created] if return_ids else []
    fields = _columns(model)
    defaults: dict[str, Any] = {}
    for field in fields:
        if field.attname not in rows[0]:
            # As the ORM would: the field's default, or "" for a text field without one.
            defaults[field.attname] = field.get_default()
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None  # noqa: S101 - every concrete model has a primary key
    names = [str(f.column) for f in fields]
    with connection.cursor() as cursor:
        ids: list[int] = []
        if return_ids:
            ids = ids_reserve(cursor, table, str(pk.column), len(rows))
            names.insert(0, str(pk.column))
        quoted = ", ".join(connection.ops.quote_name(n) for n in names)
        sql = f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for index, row in enumerate(rows):
                values: list[Any] = [ids[index]] if return_ids else []
                for field in fields:
                    name = field.attname
                    value = row[name] if name in row else defaults.get(name)
                    if name in json_fields and value is not None:
                        value = _DUMPS(value)
                    values.append(value)
                copy.write_row(values)
    return ids


# The sequence is looked up once (a materialised CTE), not once per id: evaluated per row,
# `pg_get_serial_sequence` cost a twentieth of an import's database time.
_IDS_RESERVE = """
WITH seq AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS name)
SELECT nextval(seq.name) FROM seq, generate_series(1, %s)
"""


def ids_reserve(cursor: Any, table: str, column: str, count: int) -> list[int]:
    """Take `count` ids from the sequence of `table`.`column` (PostgreSQL), in increasing order."""
    cursor.execute(_IDS_RESERVE, [table, column, count])
    return sorted(int(row[0]) for row in cursor.fetchall())


def dump_json(value: Any) -> str:
    """Return `value` as compact JSON text, as COPY into a jsonb column expects it."""
    return _DUMPS(value)


def insert_select_sql(
    model: type[models.Model], expressions: dict[str, str]
) -> tuple[str, str, dict[str, Any]]:
    """Return (columns, select list, parameters) for `INSERT INTO <model> (columns) SELECT ...`.

    `expressions` maps a field's attname to its SQL expression; every other concrete field
    (but the primary key, unless named) gets its model default as a `%(default_<attname>)s`
    parameter, as the ORM would. The SQL is for a raw psycopg cursor (named parameters).
    """
    columns: list[str] = []
    values: list[str] = []
    params: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.attname in expressions:
            values.append(expressions[field.attname])
        elif field.primary_key:
            continue
        else:
            key = f"default_{field.attname}"
            params[key] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({key})s")
        columns.append(connection.ops.quote_name(str(field.column)))
    return ", ".join(columns), ", ".join(values), params


# COPY's text format: a backslash starts an escape, tab separates columns, newline ends a row.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_NULL = "\\N"


def copy_text(value: str | None) -> str:
    """`value` as one column of a row in COPY's text format (None is NULL)."""
    return COPY_NULL if value is None else value.translate(_COPY_ESCAPES)


def _copy_constant(field: models.Field[Any, Any], value: Any) -> str:
    """`value` of `field` as one column of COPY's text format, prepared as the ORM prepares it."""
    if value is None:
        return COPY_NULL
    if isinstance(field, models.JSONField):
        return copy_text(dump_json(value))
    prepared = field.get_db_prep_save(value, connection)
    if isinstance(prepared, bool):
        return "t" if prepared else "f"
    if isinstance(prepared, (datetime, date)):
        return prepared.isoformat()
    return copy_text(str(prepared))


def copy_row_format(
    model: type[models.Model], varying: Sequence[str], constants: Mapping[str, Any]
) -> tuple[list[str], str]:
    """Return (columns, template) for COPY text rows of `model` straight into its table.

    The fields named in `varying` (attnames) become the template's fields `{0}`, `{1}`, ... in
    that order, given per row as COPY text; every other concrete field is written once into the
    template: its value in `constants`, or else its model default, as the ORM would give it. The
    primary key is left to the database (its sequence) unless named in `varying`.
    `template.format(*texts)` is one row, with its newline."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    unknown = sorted(set(varying) - fields.keys()) + sorted(set(constants) - fields.keys())
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(unknown)}")
    columns: list[str] = []
    parts: list[str] = []
    for name, field in fields.items():
        if name in varying:
            parts.append(f"{{{list(varying).index(name)}}}")
        elif field.primary_key:
            continue
        else:
            value = constants[name] if name in constants else field.get_default()
            parts.append(_copy_constant(field, value).replace("{", "{{").replace("}", "}}"))
        columns.append(str(field.column))
    return columns, "\t".join(parts) + "\n"


def copy_text_write(cursor: Any, table: str, columns: Sequence[str], text: str) -> None:
    """COPY rows already in COPY's text format (each ending in a newline) into `table`.

    Rows formatted ahead, where the caller has time, and sent in one write keep the database
    busy: psycopg's `write_row` formats row by row while the database waits (measured: 3.5 us of
    Python a row against 2.2 us to build the text, which an import does while the database
    stores the chunk before)."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
        copy.write(text)


# While a WriteBehind runs, the interpreter hands its lock over every 0.5 ms instead of 5 ms: the
# write thread needs the lock after each round trip, and the thread preparing the next batch
# (pure Python) kept it up to the whole default interval each time while PostgreSQL waited
# (measured in process on a fresh database after a CHECKPOINT, 200,000 tasks imported: 5.87-6.04 s
# with 5 ms, 5.40-5.42 s with 0.5 ms; bench/queue.py through the API: README).
# The interval is the process's: the first WriteBehind in sets it, the last one out restores it.
WRITE_BEHIND_SWITCH_INTERVAL = 0.0005
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


def _switch_interval_shorten() -> None:
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, WRITE_BEHIND_SWITCH_INTERVAL))
        _switch_users += 1


def _switch_interval_restore() -> None:
    global _switch_users
    with _switch_lock:
        _switch_users -= 1
        if _switch_users == 0:
            sys.setswitchinterval(_switch_saved)


class WriteBehind(Generic[T]):
    """Run database writes, one at a time, in a second thread on this thread's connection.

    `submit(write)` starts `write(raw_cursor)` and returns the result of the write before it, so
    the caller prepares batch n + 1 while PostgreSQL stores batch n. The writes join the caller's
    transaction; the caller must not use the connection itself until `drain()` (or the end of the
    `with` block, which waits for the last write even when leaving on an error).
    """

    def __init__(self) -> None:
        connection.ensure_connection()
        self._raw = connection.connection
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[T] | None = None

    def __enter__(self) -> WriteBehind[T]:
        _switch_interval_shorten()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        executor, self._executor = self._executor, None
        try:
            if executor is not None:
                # Wait even when leaving on an error: the caller rolls back on this connection next.
                executor.shutdown(wait=True)
            self._pending = None
        finally:
            _switch_interval_restore()

    def submit(self, write: Callable[[Any], T]) -> T | None:
        """Start `write`; return what the previous write returned (raising what it raised)."""
        previous = self.drain()
        assert self._executor is not None  # noqa: S101 - used only inside its `with` block
        self._pending = self._executor.submit(self._run, write)
        return previous

    def drain(self) -> T | None:
        """Wait for the running write; return its result (or raise its error), None if none."""
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else None

    def _run(self, write: Callable[[Any], T]) -> T:
        with self._raw.cursor() as cursor:
            return write(cursor)


# The deferrable foreign keys declared on the given tables (Django makes every reference
# DEFERRABLE INITIALLY DEFERRED).
_DEFERRABLE_REFERENCES = """
SELECT conname FROM pg_constraint
WHERE contype = 'f' AND condeferrable AND conrelid = ANY(%s::regclass[])
ORDER BY conname
"""


@contextmanager
def references_checked_per_statement(
    models_written: Sequence[type[models.Model]],
) -> Iterator[None]:
    """Inside the block, PostgreSQL checks the references declared on these models' tables at the
    end of each statement instead of at the commit (SET CONSTRAINTS with their names; no other
    constraint changes mode). A large write then checks each chunk while the caller prepares the
    next one, not millions of rows at once after the last chunk with nothing else to do. Checks
    of these references still pending from earlier in the transaction run on entry. On leaving
    normally, or by an exception raised in Python, they are deferred again (a database error or a
    lost connection leaves nothing to restore: the transaction can only roll back). Does nothing
    elsewhere."""
    if not copy_supported():
        yield
        return
    tables = [model._meta.db_table for model in models_written]
    with connection.cursor() as cursor:
        cursor.execute(_DEFERRABLE_REFERENCES, [tables])
        names = ", ".join(connection.ops.quote_name(row[0]) for row in cursor.fetchall())
        if not names:
            yield
            return
        cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
    try:
        yield
    finally:
        # After a database error (or with the connection lost) the transaction only takes a
        # rollback: send nothing then, so that the error that stopped it is the one raised.
        raw = connection.connection
        if raw is not None and raw.info.transaction_status == TransactionStatus.INTRANS:
            with connection.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")
