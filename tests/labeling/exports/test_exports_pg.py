"""On PostgreSQL the database writes JSON Lines itself: each line, parsed, is the row of `export_rows`.

Projects of every task type and pipeline hold annotations of every status, corrections, reviews at
two levels, ties, nulls, and text that JSON must escape; they are exported with every filter, in
one chunk and in chunks of three tasks whose ids are sometimes consecutive, with another project's
tasks among them, and sometimes far apart.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from labeling.export_formats import compact_json
from labeling.models import Annotation, ImportJob, Review, Task
from labeling.services.exports import postgres_jsonl, streaming
from labeling.services.exports import rows as python_rows
from labeling.services.exports.rows import export_rows
from labeling.services.exports.streaming import export_stream
from tests.factories import make_user
from tests.labeling.factories import make_project_row

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

TASK_TYPES = ["single_label", "multi_label", "ner", "bbox"]
PIPELINES = ["standard", "consensus", "collection"]
RESULTS = {
    "single_label": {"label": "positive"},
    "multi_label": {"labels": ["sports", "politics"]},
    "ner": {
        "spans": [{"start": 0, "end": 5, "label": "PER"}, {"start": 9, "end": 14, "label": "LOC"}]
    },
    "bbox": {"boxes": [{"x": 10.5, "y": 20, "w": 30, "h": 40.25, "label": "car"}]},
}
TIE = {"label": None, "tied": ["positive", "negative"]}
# What JSON must escape or may leave alone: quotes, backslashes, control characters, DEL, line
# and paragraph separators (which str.splitlines would split on), accents, CJK, emoji sequences.
NASTY = (
    'Quote " backslash \\ slash / tab\t newline\n return\r bell\x07 unit\x1f del\x7f'
    ' nbsp\xa0 line\u2028 paragraph\u2029 café 中文 🎉 👩\u200d💻 null true {} [] ""'
)
META = {
    "source": 'crawl "q1"',
    "a": NASTY,
    "nested": {"list": [1, 2.5, None, True, False, "ü"], "empty": {}, "none": None},
    "big": 12345678901234567890,
    "small": 1e-07,
    "whole": 3.0,
}
MOMENT = datetime(2025, 1, 31, 12, 30, 5, 123400, tzinfo=UTC)
WHOLE_SECOND = datetime(2025, 2, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def people():
    return [make_user(Role.ANNOTATOR) for _ in range(3)] + [make_user(Role.REVIEWER, level=2)]


def make_task(project, *, completed=True, **fields):
    data = (
        {"image": 'https://images.example.test/a b.jpg?x=1&y="2"', "width": 640, "height": 480}
        if project.task_type == "bbox"
        else {"text": NASTY, "lang": "mul"}
    )
    values = {
        "data": data,
        "result": RESULTS[project.task_type] if completed else None,
        "status": "completed" if completed else "open",
        "completed_at": MOMENT if completed else None,
        **fields,
    }
    return Task.objects.create(project=project, **values)


def annotate(task, author, *, status="accepted", revision=1, at=MOMENT, **fields):
    values = {
        "result": RESULTS[task.project.task_type],
        "instructions_version": 2,
        "active_seconds": 41,
        **fields,
    }
    return Annotation.objects.create(
        task=task,
        project=task.project,
        author=author,
        revision=revision,
        status=status,
        submitted_at=at,
        **values,
    )


def review(task, reviewer, *, level, verdict, annotation=None, at=MOMENT, **fields):
    return Review.objects.create(
        task=task,
        project=task.project,
        annotation=annotation,
        author=annotation.author if annotation else None,
        reviewer=reviewer,
        level=level,
        verdict=verdict,
        created_at=at,
        **fields,
    )


def add_worked_task(project, people, **fields):
    """A final task with the whole history: submissions of each status, a correction, reviews."""
    first, second, third, reviewer = people
    task = make_task(project, **fields)
    accepted = annotate(task, first, at=MOMENT - timedelta(minutes=9))
    # Submitted at the same moment as `accepted`: the id decides the order.
    annotate(
        task, second, status="rejected", at=MOMENT - timedelta(minutes=9), instructions_version=None
    )
    corrected = annotate(task, third, status="corrected", at=MOMENT - timedelta(minutes=8))
    correction = annotate(task, reviewer, corrects=corrected, at=WHOLE_SECOND, active_seconds=0)
    annotate(task, third, status="discounted", revision=2, at=MOMENT - timedelta(minutes=7))
    annotate(task, second, status="submitted", revision=2, at=MOMENT - timedelta(minutes=6))
    review(task, reviewer, level=1, verdict="approve", annotation=accepted)
    review(task, reviewer, level=1, verdict="reject", annotation=corrected, reason="wrong_label")
    review(task, reviewer, level=1, verdict="correct", annotation=corrected, correction=correction)
    review(task, reviewer, level=2, verdict="approve", at=WHOLE_SECOND)  # a consensus aggregate
    return task


def build(project, people):
    """Tasks of `project` of every kind, among another project's worked tasks; return a batch.

    In chunks of three, the final tasks' first chunk spans the ids of an open task and a task of
    the other project, and their second chunk spans twenty tasks of the other project.
    """
    batch = ImportJob.objects.create(
        project=project, source_kind="api", source="test", file_format="jsonl"
    )
    elsewhere = make_project_row(None, project.task_type, project.pipeline)
    first, second, _, _ = people
    add_worked_task(
        project,
        people,
        external_id=f'doc "1" \\ {NASTY}',
        meta=META,
        agreement=2 / 3,
        confidence=1.0,
        import_job=batch,
    )
    started = make_task(project, completed=False, external_id="", meta={"note": None})
    annotate(started, first, status="submitted")
    annotate(started, second, status="rejected")
    add_worked_task(elsewhere, people)
    tie = make_task(project, result=TIE, is_tie=True, agreement=0.5, review_level=2)
    annotate(tie, first, result={"label": "positive"})
    annotate(tie, second, result={"label": "negative"})
    make_task(project, completed_at=WHOLE_SECOND, agreement=0.0, confidence=1e-05, import_job=batch)
    make_task(project, is_gold=True)  # gold tasks are never exported
    make_task(project, completed=False, import_job=batch)  # nobody has worked on it yet
    add_worked_task(project, people)
    for _ in range(20):
        add_worked_task(elsewhere, people)
    add_worked_task(project, people, agreement=1.0)
    return batch


def fast_lines(monkeypatch, project, **filters):
    def not_called(**_):
        raise AssertionError("the export went through the Python rows, not PostgreSQL's lines")

    with monkeypatch.context() as patch:
        patch.setattr(streaming, "rows_read", not_called)
        body = b"".join(export_stream(project=project, file_format="jsonl", **filters)).decode()
    assert body == "" or body.endswith("\n")
    return body.split("\n")[:-1]  # JSON escapes every newline inside a value


FILTERS = {
    "final": {},
    "all": {"final_only": False},
    "completed in a window": {"since": MOMENT - timedelta(seconds=1), "until": WHOLE_SECOND},
    "created from now on": {"final_only": False, "since": datetime.now(UTC) - timedelta(hours=1)},
    "nothing": {"since": "2999-01-01"},
}


@pytest.mark.parametrize("chunk_size", [3, 2_000])
@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_postgresql_lines_parse_to_the_python_rows(
    monkeypatch, people, task_type, pipeline, chunk_size
):
    project = make_project_row(None, task_type, pipeline)
    batch = build(project, people)
    monkeypatch.setattr(python_rows, "CHUNK_SIZE", chunk_size)
    monkeypatch.setattr(postgres_jsonl, "CHUNK_SIZE", chunk_size)
    ranges = []
    real_tasks_where = postgres_jsonl._tasks_where

    def tasks_where(ids):
        where, params = real_tasks_where(ids)
        ranges.append("BETWEEN" in where)
        return where, params

    monkeypatch.setattr(postgres_jsonl, "_tasks_where", tasks_where)

    by_batch = {
        "final of a batch": {"batch_id": batch.pk},
        "all of a batch": {"batch_id": batch.pk, "final_only": False},
    }
    for name, filters in {**FILTERS, **by_batch}.items():
        lines = fast_lines(monkeypatch, project, **filters)
        rows = list(export_rows(project=project, **filters))

        assert [json.loads(line) for line in lines] == rows, name
        # Also the same keys in the same order, and the same types (1.0 is not 1).
        assert [compact_json(json.loads(line)) for line in lines] == [
            compact_json(row) for row in rows
        ], name
        assert (len(rows) > 0) == (name != "nothing")
    # Both ways of reading a chunk's annotations and reviews were taken: as one range of ids,
    # with other tasks' rows in it, and by id.
    assert set(ranges) == {True, False}


def test_postgresql_lines_keep_the_python_time_format(monkeypatch):
    project = make_project_row(None, "single_label", "standard")
    make_task(project, completed_at=MOMENT)
    make_task(project, completed_at=WHOLE_SECOND)
    make_task(project, completed_at=datetime(2025, 1, 31, 23, 59, 59, 1, tzinfo=UTC))

    lines = fast_lines(monkeypatch, project)

    assert [json.loads(line)["completed_at"] for line in lines] == [
        "2025-01-31T12:30:05.123400Z",
        "2025-02-01T08:00:00Z",
        "2025-01-31T23:59:59.000001Z",
    ]


@pytest.mark.parametrize(("pipeline", "per_chunk"), [("standard", 3), ("collection", 2)])
def test_postgresql_lines_take_the_same_queries_for_5_or_50_tasks(people, pipeline, per_chunk):
    few = make_project_row(None, "single_label", pipeline)
    many = make_project_row(None, "single_label", pipeline)
    for project, size in ((few, 5), (many, 50)):
        for _ in range(size):
            annotate(make_task(project), people[0])

    with CaptureQueriesContext(connection) as few_queries:
        b"".join(export_stream(project=few, file_format="jsonl"))
    with CaptureQueriesContext(connection) as many_queries:
        b"".join(export_stream(project=many, file_format="jsonl"))

    # One chunk: its tasks, their annotations and (but for collection projects) their reviews.
    assert len(few_queries) == len(many_queries) == per_chunk


def test_postgresql_lines_read_keyset_chunks_without_offset(monkeypatch, people):
    project = make_project_row(None, "single_label", "standard")
    for _ in range(10):
        annotate(make_task(project), people[0])
    monkeypatch.setattr(postgres_jsonl, "CHUNK_SIZE", 3)

    with CaptureQueriesContext(connection) as queries:
        body = b"".join(export_stream(project=project, file_format="jsonl"))

    assert body.count(b"\n") == 10
    assert len(queries) == 3 * 4  # chunks of 3, 3, 3 and 1 tasks
    assert all("OFFSET" not in q["sql"].upper() for q in queries)
