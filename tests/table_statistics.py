"""Reading PostgreSQL's planner-statistics bookkeeping in tests of the jobs that analyse stale
tables (core/table_statistics.py). These tests commit for real (`transaction=True`): the activity
statistics count only what other sessions could see."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def analyze_counts(tables: Sequence[str]) -> dict[str, int]:
    """How many times each table was analysed (by hand or by a job), by table name."""
    flush_activity_counts()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [list(tables)],
        )
        return dict(cursor.fetchall())


def analyse_now(tables: Sequence[str]) -> None:
    """Analyse `tables` now (as a test's starting point: nothing changed since)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
    flush_activity_counts()


def flush_activity_counts() -> None:
    """Send this session's pending activity counts to the shared statistics now (they are sent
    when the session is next idle, at most once a second, unless forced); the next query sees
    them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
