"""A queue statement aborted by a PostgreSQL deadlock runs again when nothing of the caller's is lost."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import psycopg.errors
import pytest
from django.db import OperationalError, transaction

from core.statements import statement_execute


class _Cursor:
    """Fails its first `failures` calls with the error Django raises for `cause`, then answers."""

    def __init__(self, cause: Exception, failures: int) -> None:
        self.cause, self.failures, self.calls = cause, failures, 0

    def execute(self, sql: str, params: list[Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError(str(self.cause)) from self.cause

    def fetchone(self) -> tuple[str]:
        return ("leased",)

    @property
    def description(self) -> list[Any]:
        return [SimpleNamespace(name="outcome")]


def _deadlock() -> Exception:
    return psycopg.errors.DeadlockDetected("deadlock detected")


@pytest.mark.django_db(transaction=True)
def test_a_call_aborted_by_a_deadlock_runs_again_and_answers():
    cursor = _Cursor(_deadlock(), failures=2)

    row = statement_execute(cursor, "SELECT 1", [])

    assert (row, cursor.calls) == ({"outcome": "leased"}, 3)


@pytest.mark.django_db(transaction=True)
def test_a_call_still_deadlocked_after_three_attempts_raises():
    cursor = _Cursor(_deadlock(), failures=3)

    with pytest.raises(OperationalError):
        statement_execute(cursor, "SELECT 1", [])
    assert cursor.calls == 3


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_inside_the_callers_transaction_is_not_retried():
    cursor = _Cursor(_deadlock(), failures=1)

    with pytest.raises(OperationalError), transaction.atomic():
        statement_execute(cursor, "SELECT 1", [])
    assert cursor.calls == 1


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried():
    cursor = _Cursor(psycopg.errors.QueryCanceled("canceling statement"), failures=1)

    with pytest.raises(OperationalError):
        statement_execute(cursor, "SELECT 1", [])
    assert cursor.calls == 1
