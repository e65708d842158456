"""Bulk inserts (COPY on PostgreSQL) store what the ORM would, and return the ids in order."""

import pytest

from labeling.bulk import bulk_insert
from labeling.models import GoldAnswer, Task, TaskStatus
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
