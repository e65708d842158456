"""Running the queue's one-statement writers on PostgreSQL (see `labeling.services.claim`).

The statements themselves are composed next to their operations (claim, submit) from the same
conditions the transactional writer uses; this module runs them and reads their row.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection

# A claim and a submit on the same task can each hold a row the other needs (a consensus or
# depth-first queue puts several people on one task at once); PostgreSQL then aborts one of them
# with deadlock_detected. Outside a transaction of the caller's, the aborted statement changed
# nothing, so running it again is safe; inside one, the caller's transaction is lost: re-raise.
DEADLOCK_ATTEMPTS = 3
DEADLOCK_DETECTED = "40P01"


def statements_enabled() -> bool:
    """Whether the ordinary claim and submit run as one statement (PostgreSQL, the setting on)."""
    return connection.vendor == "postgresql" and bool(settings.QUORUM_QUEUE_STATEMENTS)


def statement_execute(cursor: Any, sql: str, params: Any) -> dict[str, Any] | None:
    """Execute one queue statement on `cursor`; its first row by column name (None: no row).

    A statement aborted by a deadlock runs again, up to three times, when that is safe."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is None:
                return None
            names = [column.name for column in cursor.description]
            return dict(zip(names, row, strict=True))
        except OperationalError as exc:
            deadlock = getattr(exc.__cause__, "sqlstate", None) == DEADLOCK_DETECTED
            if not deadlock or connection.in_atomic_block or attempt == DEADLOCK_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def statement_run(sql: str, params: Any) -> dict[str, Any] | None:
    """`statement_execute` on a cursor of the default connection."""
    with connection.cursor() as cursor:
        return statement_execute(cursor, sql, params)


def json_value(value: Any) -> Any:
    """jsonb arrives as text through Django's connection (JSONField decodes it itself)."""
    return json.loads(value) if isinstance(value, str) else value
