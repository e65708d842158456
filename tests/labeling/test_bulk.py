"""Bulk inserts (COPY on PostgreSQL) store what the ORM would, and return the ids in order."""

import sys
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from psycopg.errors import ForeignKeyViolation  # COPY runs on the driver's cursor

from labeling.bulk import (
    WriteBehind,
    bulk_insert,
    copy_row_format,
    references_checked_per_statement,
)
from labeling.models import GoldAnswer, Task, TaskStatus, WorkSlot
from tests.labeling.factories import make_project

pytestmark = pytest.mark.django_db


def test_bulk_insert_returns_ids_in_order_and_fills_defaults_like_the_orm():
    project = make_project()
    rows = [
        {"project_id": project.pk, "data": {"text": f"Ünïcode {n} \t tab\nline"}, "meta": {"n": n}}
        for n in range(3)
    ]

    ids = bulk_insert(Task, rows, return_ids=True)

    tasks = list(Task.objects.filter(pk__in=ids).order_by("pk"))
    assert [t.pk for t in tasks] == ids
    assert [t.data["text"] for t in tasks] == [f"Ünïcode {n} \t tab\nline" for n in range(3)]
    assert {(t.status, t.priority, t.annotations_count, t.is_gold) for t in tasks} == {
        (TaskStatus.OPEN, 0, 0, False)
    }
    assert all(t.result is None and t.pre_annotation is None for t in tasks)
    answer_ids = bulk_insert(GoldAnswer, [{"task_id": ids[0], "result": {"label": "cat"}}])
    assert answer_ids == []
    answer = GoldAnswer.objects.get(task_id=ids[0])
    assert (answer.explanation, answer.version, answer.is_retired) == ("", 1, False)


MISSING = 10**12


def _task_of_missing_project():
    """Store a task of a project that does not exist (by COPY on PostgreSQL)."""
    bulk_insert(Task, [{"project_id": MISSING, "data": {}}])


@pytest.mark.postgres
def test_references_are_checked_by_each_statement_inside_the_block_and_at_commit_after_it():
    with transaction.atomic():
        with (
            pytest.raises(ForeignKeyViolation, match="labeling_task_project_id"),
            references_checked_per_statement([Task, WorkSlot]),
        ):
            _task_of_missing_project()  # refused by its own statement
        transaction.set_rollback(True)

    with transaction.atomic():
        with references_checked_per_statement([Task, WorkSlot]):
            pass
        _task_of_missing_project()  # deferred again after the block: accepted for now
        with pytest.raises(IntegrityError, match="labeling_task_project_id"):
            connection.check_constraints()
        transaction.set_rollback(True)


@pytest.mark.postgres
def test_only_the_named_tables_references_change_mode():
    with transaction.atomic():
        with references_checked_per_statement([Task, WorkSlot]):
            # A gold answer's reference to its task stays deferred inside the block.
            bulk_insert(GoldAnswer, [{"task_id": MISSING, "result": {"label": "cat"}}])
        with pytest.raises(IntegrityError, match="labeling_goldanswer_task_id"):
            connection.check_constraints()
        transaction.set_rollback(True)


@pytest.mark.postgres
def test_after_a_database_error_inside_the_block_the_error_is_what_is_raised():
    with transaction.atomic():
        with (
            pytest.raises(ForeignKeyViolation, match="labeling_task_project_id"),
            references_checked_per_statement([Task]),
        ):
            _task_of_missing_project()
        transaction.set_rollback(True)


@pytest.mark.postgres  # COPY text: PostgreSQL's
def test_a_copy_row_format_holds_constants_and_model_defaults_and_leaves_the_rest_per_row():
    at = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)

    columns, row = copy_row_format(
        Task, ("id", "data"), {"project_id": 7, "meta": {"a": "{b}\t"}, "created_at": at}
    )

    texts = row.format("41", '{"text":"x"}').removesuffix("\n").split("\t")
    assert len(texts) == len(columns) == len(Task._meta.concrete_fields)
    values = dict(zip(columns, texts, strict=True))
    assert values == {
        "id": "41",
        "external_id": "\\N",
        "data": '{"text":"x"}',
        "meta": r'{"a":"{b}\\t"}',  # braces kept; JSON's escape of the tab, escaped for COPY
        "pre_annotation": "\\N",
        "priority": "0",
        "status": "open",
        "annotations_count": "0",
        "result": "\\N",
        "agreement": "\\N",
        "confidence": "\\N",
        "is_tie": "f",
        "is_gold": "f",
        "review_level": "0",
        "created_at": "2026-12-07T15:30:00+00:00",
        "completed_at": "\\N",
        "import_job_id": "\\N",
        "project_id": "7",
    }
    slot_columns, _ = copy_row_format(WorkSlot, ("task_id",), {})
    assert "id" not in slot_columns  # left to the table's sequence
    with pytest.raises(ValueError, match="Task has no field colour, size"):
        copy_row_format(Task, ("colour",), {"size": 1})


@pytest.mark.postgres  # a write-behind thread needs PostgreSQL's driver
def test_a_write_behind_shortens_the_switch_interval_while_it_runs_and_restores_it():
    before = sys.getswitchinterval()
    with WriteBehind() as outer:
        assert sys.getswitchinterval() == pytest.approx(0.0005)
        with pytest.raises(RuntimeError, match="inner"), WriteBehind():
            raise RuntimeError("inner")
        assert sys.getswitchinterval() == pytest.approx(0.0005)  # the outer one still runs
        assert outer.submit(lambda cursor: 1) is None
        assert outer.drain() == 1
    assert sys.getswitchinterval() == before
