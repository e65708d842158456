"""Running fixed statements on PostgreSQL: the queue's one-statement writers (see
`labeling.services.claim`) and pay's reads and writes on the submit path (payments).

The statements themselves are composed next to their operations (claim, submit, accrual) from the
same conditions the transactional writer uses; this module runs them and reads their rows.

Each is PREPAREd once per database connection and then EXECUTEd with its arguments: planning a
statement of this size costs PostgreSQL several times what running it does (1.5 ms against
0.3 ms for the claim), and a prepared statement is planned once. Constants are written into the
prepared text as literals, so the plan can use the partial indexes they select (an open slot);
only what changes from call to call (people, projects, times, the gold draw, results) are
arguments. Prepared statements belong to the connection: a connection pooler in front of
PostgreSQL must keep sessions (pgbouncer's session mode), as Django's persistent connections do.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import OperationalError, connection
from django.db.models import Model, QuerySet
from psycopg import sql as pg_sql

ModelT = TypeVar("ModelT", bound=Model)

# A claim and a submit on the same task can each hold a row the other needs (a consensus or
# depth-first queue puts several people on one task at once); PostgreSQL then aborts one of them
# with deadlock_detected. Outside a transaction of the caller's, the aborted statement changed
# nothing, so running it again is safe; inside one, the caller's transaction is lost: re-raise.
DEADLOCK_ATTEMPTS = 3
DEADLOCK_DETECTED = "40P01"


def statement_execute(
    cursor: Any, sql: str, params: Any, *, names: list[str] | None = None
) -> dict[str, Any] | None:
    """Execute one queue statement on `cursor`; its first row by column name (None: no row).
    `names`, when given, are the statement's column names (else read from the cursor).

    A statement aborted by a deadlock runs again, up to three times, when that is safe."""
    rows = _execute(cursor, sql, params, names=names, first=True)
    return rows[0] if rows else None


def _execute(
    cursor: Any,
    sql: str,
    params: Any,
    *,
    names: list[str] | None,
    first: bool,
    after_set: bool = False,
) -> list[dict[str, Any]]:
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            cursor.execute(sql, params)
            if after_set:  # `sql` starts with a SET: the rows are the next statement's
                cursor.nextset()
            if first:
                row = cursor.fetchone()
                found = [row] if row is not None else []
            else:
                found = cursor.fetchall()
            if not found:
                return []
            if names is None:
                names = [column.name for column in cursor.description]
                if len(set(names)) != len(names):  # rows are read by column name
                    raise ValueError(f"a fixed statement's columns need distinct names: {names}")
            return [dict(zip(names, row, strict=True)) for row in found]
        except OperationalError as exc:
            deadlock = getattr(exc.__cause__, "sqlstate", None) == DEADLOCK_DETECTED
            if not deadlock or connection.in_atomic_block or attempt == DEADLOCK_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


_MODEL_FIELDS: dict[type[Any], tuple[tuple[str, Any], ...]] = {}


def model_built(model: type[ModelT], **values: Any) -> ModelT:
    """An unsaved `model` instance of `values` (attnames, such as `project_id`) and the other
    fields' defaults, built from positional values: Django's keyword handling costs more than
    twice as much, on paths that build one per submit. Raises TypeError for a name that is not
    a field; a model with a callable default is refused (it would be called once, here)."""
    fields = _MODEL_FIELDS.get(model)
    if fields is None:
        concrete = model._meta.concrete_fields
        if any(field.has_default() and callable(field.default) for field in concrete):
            raise TypeError(f"{model.__name__} has a callable default: build it with keywords")
        fields = _MODEL_FIELDS.setdefault(
            model, tuple((field.attname, field.get_default()) for field in concrete)
        )
    instance = model(*[values.pop(name, default) for name, default in fields])
    if values:
        raise TypeError(f"not fields of {model.__name__}: {', '.join(sorted(values))}")
    return instance


def statement_run(sql: str, params: Any) -> dict[str, Any] | None:
    """`statement_execute` on a cursor of the default connection."""
    with connection.cursor() as cursor:
        return statement_execute(cursor, sql, params)


def json_value(value: Any) -> Any:
    """jsonb arrives as text through Django's connection (JSONField decodes it itself)."""
    return json.loads(value) if isinstance(value, str) else value


# The names prepared on each open database connection (the driver's connection object), and
# each prepared statement's column names (the same on every connection).
_prepared: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
_columns: dict[str, list[str]] = {}
_NAMED = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=256)
def named_placeholders(sql: str) -> tuple[str, tuple[tuple[str, None], ...]]:
    """`sql` written with `%(name)s` placeholders as positional `%s` ones and the names in order
    (the form `statement_run_prepared` takes). Kept per text: the same statements run on every
    submit."""
    names = tuple((match, None) for match in _NAMED.findall(sql))
    return _NAMED.sub("%s", sql), names


def queryset_compiled(
    queryset: QuerySet[Any], stand_ins: Mapping[int, str]
) -> tuple[str, tuple[tuple[str | None, Any], ...]]:
    """A queryset's SQL with `%s` placeholders and its parameters in the form
    `statement_run_prepared` takes: a parameter equal to one of `stand_ins` (integers no real row
    has) is that argument, any other a constant (a choice as its plain value). For a statement
    built once from the ORM's own query and prepared on each connection. Raises AssertionError
    when a stand-in is missing from the compiled query: never guess where an argument went."""
    sql, params = queryset.query.sql_with_params()
    named = tuple(
        (stand_ins[value], None)
        if isinstance(value, int) and value in stand_ins  # (psycopg's Int8 is an int)
        else (None, value.value if isinstance(value, Enum) else value)
        for value in params
    )
    if {name for name, _ in named if name} != set(stand_ins.values()):
        raise AssertionError("a stand-in is not in the compiled query")
    return sql, named


def _prepare_text(
    sql: str, params: Sequence[tuple[str | None, Any]], names: list[str], raw: Any
) -> str:
    """`sql` (with `%s` placeholders) for PREPARE: an argument's placeholder becomes `$n`, a
    constant its literal."""
    pieces = sql.split("%s")
    if len(pieces) != len(params) + 1 or "%%" in sql:
        raise ValueError("a queue statement must have one %s per parameter and no %% escapes")
    out = [pieces[0]]
    for (name, value), piece in zip(params, pieces[1:], strict=True):
        if name is None:
            out.append(pg_sql.Literal(value).as_string(raw))
        else:
            out.append(f"${names.index(name) + 1}")
        out.append(piece)
    return "".join(out)


# Sent with a statement, in the same round trip, when its commit need not wait for the flush to
# disk: outside a transaction of the caller's the two make one implicit transaction, which the
# SET LOCAL covers and nothing else.
_NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO OFF; "


def statement_run_prepared(
    sql: str,
    params: Sequence[tuple[str | None, Any]],
    *,
    arguments: Mapping[str, str],
    values: Mapping[str, Any],
    commit_waits_for_flush: bool = True,
) -> dict[str, Any] | None:
    """Run a queue statement prepared on this connection (PREPAREd at its first use here); its
    first row by column name (None: no row).

    `sql` has one `%s` per entry of `params`: (an argument's name, None) or (None, a constant).
    `arguments` gives each argument's SQL type, in order; `values` their values for this call.
    `commit_waits_for_flush=False`, outside a transaction of the caller's, commits the statement
    without waiting for PostgreSQL to flush it to disk (`synchronous_commit` off for it alone);
    inside one it changes nothing (the caller's transaction decides)."""
    rows = _run_prepared(
        sql,
        params,
        arguments=arguments,
        values=values,
        first=True,
        no_flush_wait=not commit_waits_for_flush and not connection.in_atomic_block,
    )
    return rows[0] if rows else None


def statement_rows_prepared(
    sql: str,
    params: Sequence[tuple[str | None, Any]],
    *,
    arguments: Mapping[str, str],
    values: Mapping[str, Any],
    owner: str = "quorum",
) -> list[dict[str, Any]]:
    """`statement_run_prepared`, every row. `owner` starts the prepared statement's name (the
    app that runs it, seen in PostgreSQL's logs and statistics)."""
    return _run_prepared(sql, params, arguments=arguments, values=values, first=False, owner=owner)


# Each statement's name by its text, parameters and argument types, for parameters that can be
# hashed (the fixed statements of the submit path); the name is a digest of all three.
_names: dict[tuple[Any, ...], str] = {}
_NAMES_KEPT = 512  # more shapes than any code path has: past it, start again


def _statement_name(
    sql: str,
    params: Sequence[tuple[str | None, Any]],
    arguments: Mapping[str, str],
    owner: str,
) -> str:
    shape_key = (owner, sql, tuple(params), tuple(arguments.items()))
    key: tuple[Any, ...] | None = shape_key
    try:
        found = _names.get(shape_key)
    except TypeError:  # a constant that cannot be hashed (a list): work the name out each time
        key, found = None, None
    if found is not None:
        return found
    shape = repr((sql, [(name, None if name else value) for name, value in params], arguments))
    found = f"{owner}_" + hashlib.sha256(shape.encode()).hexdigest()[:20]
    if key is not None:
        if len(_names) >= _NAMES_KEPT:
            _names.clear()
        _names[key] = found
    return found


def _run_prepared(
    sql: str,
    params: Sequence[tuple[str | None, Any]],
    *,
    arguments: Mapping[str, str],
    values: Mapping[str, Any],
    first: bool,
    owner: str = "quorum",
    no_flush_wait: bool = False,
) -> list[dict[str, Any]]:
    names = list(arguments)
    statement = _statement_name(sql, params, arguments, owner)
    with connection.cursor() as cursor:
        raw = cursor.connection
        ready = _prepared.setdefault(raw, set())
        if statement not in ready:
            text = _prepare_text(sql, params, names, raw)
            types = ", ".join(arguments[name] for name in names)
            cursor.execute(f"PREPARE {statement} ({types}) AS {text}")
            ready.add(statement)
        placeholders = ", ".join(["%s"] * len(names))
        rows = _execute(
            cursor,
            f"{_NO_FLUSH_WAIT if no_flush_wait else ''}EXECUTE {statement} ({placeholders})",
            [values[name] for name in names],
            names=_columns.get(statement),
            first=first,
            after_set=no_flush_wait,
        )
        if rows and statement not in _columns:
            _columns[statement] = list(rows[0])
        return rows


def statement_rows(
    sql: str, *, arguments: Mapping[str, str], values: Mapping[str, Any], owner: str = "quorum"
) -> list[tuple[Any, ...]]:
    """Every row of a fixed statement written with `%(name)s` placeholders, as tuples: PREPAREd
    once per connection on PostgreSQL (`arguments` gives each name's SQL type), run as it is on
    other databases. Its columns need distinct names."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, dict(values))
            return [tuple(row) for row in cursor.fetchall()]
    positional, params = named_placeholders(sql)
    rows = statement_rows_prepared(
        positional, params, arguments=arguments, values=values, owner=owner
    )
    return [tuple(row.values()) for row in rows]
