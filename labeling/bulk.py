"""Fast bulk inserts: PostgreSQL COPY for the big writes (imports), `bulk_create` elsewhere.

Building an INSERT through the ORM costs far more than the database's own work for large batches
(each value passes through field preparation and client-side quoting). On PostgreSQL the rows go
through `COPY ... FROM STDIN` instead, with their ids reserved first from the table's sequence, so
callers still learn the ids. Rows are plain dicts keyed by field attname; fields left out take
their model default. Call inside the caller's transaction: COPY joins it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk.column, len(rows)],
            )
            ids = [int(r[0]) for r in cursor.fetchall()]
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
