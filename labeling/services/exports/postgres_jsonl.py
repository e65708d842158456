"""JSON Lines exports written by PostgreSQL: the lines of the Python rows, without decoding them.

In Python, decoding the JSON columns and encoding every row again costs most of an export's
time. On PostgreSQL the database writes the JSON text instead, from the same keyset chunks as
`labeling.services.exports.rows`: one query writes each task's line up to its annotations, one
writes each of their annotations and one each review as a JSON object, and Python puts a task's
objects into its line while the database runs the next chunk's queries. Measured on two cores
with PostgreSQL alongside, for 1,000,000 tasks of one annotation each: about 70,000 rows/s
(51,000 without the overlap). One query per chunk with the annotations and reviews aggregated in
correlated subqueries, streamed with COPY or not, stays near 40,000, bound by the database (an
index probe, an aggregate and a sort per task); formatting the plain columns in Python gives
about 26,000.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import TextChoices, TextField
from django.db.models.expressions import RawSQL

from labeling.export_formats import compact_json
from labeling.models import (
    AnnotationStatus,
    Pipeline,
    Project,
    RejectReason,
    TaskStatus,
    Verdict,
)
from labeling.services.completion import CONFIDENCE_POSTERIOR, confidence_method_of
from labeling.services.exports.filters import ExportFilters, collection_statuses, tasks_selected
from labeling.services.exports.rows import CHUNK_SIZE


def _sql_text(column: str) -> str:
    return f"COALESCE(to_json({column})::text, 'null')"


def _sql_choice(column: str, choices: type[TextChoices]) -> str:
    # A status is one of its choices, whose JSON text is known here: cheaper than to_json.
    known = " ".join(f"WHEN '{value}' THEN '{compact_json(value)}'" for value in choices.values)
    return f"CASE {column} {known} ELSE {_sql_text(column)} END"


def _sql_int(column: str) -> str:
    return f"COALESCE({column}::text, 'null')"


def _sql_float(column: str) -> str:
    # json.dumps writes a float as repr() does: the shortest text that reads back the same, as
    # float8 output does (with extra_float_digits >= 1, the default), but whole numbers as "1.0"
    # where PostgreSQL writes "1". From 1e15 up only the form differs ("1e+15"); NaN and
    # Infinity come out as json.dumps writes them.
    return (
        f"CASE WHEN {column} IS NULL THEN 'null'"
        f" WHEN {column} = trunc({column}) AND abs({column}) < 1e15::float8"
        f" THEN {column}::text || '.0' ELSE {column}::text END"
    )


def _sql_iso(column: str) -> str:
    # As `filters.iso`: UTC, "Z", the microseconds only when there are any (isoformat leaves them out).
    text = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"""COALESCE('"' || replace({text}, '.000000', '') || 'Z"', 'null')"""


def _sql_json(column: str) -> str:
    # The stored jsonb as text: the values, and the key order, that psycopg decodes for `rows_read`
    # (jsonb keeps keys in an order of its own), with a space after each "," and ":" inside.
    return f"COALESCE({column}::text, 'null')"


def _sql_members(members: list[tuple[str, str]], *, opens: bool) -> str:
    """Return SQL concatenating `"key":value` members, starting with "{" when `opens`."""
    parts = []
    for index, (key, value) in enumerate(members):
        lead = "{" if opens and index == 0 else ","
        parts.append(f"""'{lead}"{key}":' || {value}""")
    return " || ".join(parts)


# A task's members in the order of a Python row (see `rows_read`): up to "meta" (the task type is a parameter),
# its "result", then up to "batch".
_TASK = "labeling_task"
_SQL_TASK_HEAD = _sql_members(
    [
        ("task_id", f"{_TASK}.id::text"),
        ("external_id", _sql_text(f"{_TASK}.external_id")),
        ("task_type", "%s"),
        ("status", _sql_choice(f"{_TASK}.status", TaskStatus)),
        ("data", _sql_json(f"{_TASK}.data")),
        ("meta", _sql_json(f"{_TASK}.meta")),
    ],
    opens=True,
)
_SQL_TASK_RESULT = _sql_json(f"{_TASK}.result")
_SQL_TASK_TAIL = _sql_members(
    [
        ("agreement", _sql_float(f"{_TASK}.agreement")),
        ("confidence", _sql_float(f"{_TASK}.confidence")),
        # The project's confidence method (a JSON string or null), and whether it is a vote share.
        ("confidence_method", "%s"),
        ("vote_share", f"CASE WHEN %s THEN {_sql_float(f'{_TASK}.confidence')} ELSE 'null' END"),
        ("is_tie", f"{_TASK}.is_tie::text"),
        ("review_level", f"{_TASK}.review_level::text"),
        ("completed_at", _sql_iso(f"{_TASK}.completed_at")),
        ("batch", _sql_int(f"{_TASK}.import_job_id")),
    ],
    opens=False,
)
# A standard or consensus task's line up to its annotations' objects.
_SQL_TASK_START = (
    f"""{_SQL_TASK_HEAD} || ',"result":' || {_SQL_TASK_RESULT} || {_SQL_TASK_TAIL}"""
    """ || ',"annotation_id":null,"annotations":['"""
)
_ANNOTATION = "labeling_annotation"
_SQL_ANNOTATION = _sql_members(
    [
        ("annotation_id", f"{_ANNOTATION}.id::text"),
        ("annotator_id", f"{_ANNOTATION}.author_id::text"),
        ("revision", f"{_ANNOTATION}.revision::text"),
        ("status", _sql_choice(f"{_ANNOTATION}.status", AnnotationStatus)),
        ("result", _sql_json(f"{_ANNOTATION}.result")),
        ("submitted_at", _sql_iso(f"{_ANNOTATION}.submitted_at")),
        ("active_seconds", f"{_ANNOTATION}.active_seconds::text"),
        ("instructions_version", _sql_int(f"{_ANNOTATION}.instructions_version")),
        ("corrects", _sql_int(f"{_ANNOTATION}.corrects_id")),
    ],
    opens=True,
)
_REVIEW = "labeling_review"
_SQL_REVIEW = _sql_members(
    [
        ("level", f"{_REVIEW}.level::text"),
        ("verdict", _sql_choice(f"{_REVIEW}.verdict", Verdict)),
        ("reason", _sql_choice(f"{_REVIEW}.reason", RejectReason)),
        ("reviewer_id", f"{_REVIEW}.reviewer_id::text"),
        ("annotation_id", _sql_int(f"{_REVIEW}.annotation_id")),
        ("correction_id", _sql_int(f"{_REVIEW}.correction_id")),
        ("reviewed_at", _sql_iso(f"{_REVIEW}.created_at")),
    ],
    opens=True,
)
# A chunk's annotations (all, or a collection project's submissions with their id and result)
# and reviews, in the order of `rows_read`; TASKS stands for the condition from `_tasks_where`. Built
# from this module's constants only: values go in as parameters.
_SQL_CHUNK_ANNOTATIONS = f"""
    SELECT task_id, {_SQL_ANNOTATION} || '}}' FROM {_ANNOTATION} WHERE TASKS
    ORDER BY task_id, submitted_at, id
"""  # noqa: S608
_SQL_CHUNK_SUBMISSIONS = f"""
    SELECT task_id, id, {_sql_json("result")}, {_SQL_ANNOTATION} || '}}' FROM {_ANNOTATION}
    WHERE TASKS AND status = ANY(%s)
    ORDER BY task_id, submitted_at, id
"""  # noqa: S608
_SQL_CHUNK_REVIEWS = f"""
    SELECT task_id, {_SQL_REVIEW} || '}}' FROM {_REVIEW} WHERE TASKS
    ORDER BY task_id, created_at, id
"""  # noqa: S608
# A chunk whose ids span at most this many times its number of tasks has its annotations and
# reviews read as one range of task ids (see `_tasks_where`).
_RANGE_SPAN = 4

_TaskRows = list[tuple[Any, ...]]


def fast_jsonl_supported() -> bool:
    """Say whether `jsonl_lines` can run: PostgreSQL through psycopg 3 on libpq 14+ (pipelines)."""
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return False
    import psycopg

    return psycopg.Pipeline.is_supported()


def _text_sql(sql: str, params: tuple[Any, ...] = ()) -> RawSQL:
    return RawSQL(sql, params, output_field=TextField())  # noqa: S611 - this module's own SQL


def _tasks_where(ids: list[int]) -> tuple[str, list[Any]]:
    """Return SQL on task_id, and its parameters, that takes in at least the tasks `ids` (sorted).

    A chunk's tasks usually have nearly consecutive ids (tasks are imported in batches): one
    range scan costs far less than probing the index for each id and planning an array of
    CHUNK_SIZE ids. Rows of other tasks in the range are left out by the caller, which looks its
    tasks up by id; tasks spread further apart are looked up by id, so the range stays small.
    """
    first, last = ids[0], ids[-1]
    if last - first < _RANGE_SPAN * len(ids):
        return "task_id BETWEEN %s AND %s", [first, last]
    return "task_id = ANY(%s::bigint[])", ["{" + ",".join(map(str, ids)) + "}"]


def jsonl_lines(*, project: Project, filters: ExportFilters) -> Iterator[str]:
    """Yield the lines `write_jsonl` would write for `rows_read`, written by PostgreSQL.

    The same rows in the same order, from the same keyset chunks and three queries a chunk (two
    for a collection project, whose rows hold no reviews); parsed, each line equals its row.

    PostgreSQL and Python work at the same time: in psycopg's pipeline mode the queries of the
    next chunk go out first, then the rows of the chunk read before are decoded and its lines put
    together. No query is left running while lines are handed on, so the caller may use the
    connection between them.
    """
    is_collection = project.pipeline == Pipeline.COLLECTION
    task_type = (compact_json(project.task_type),)
    method = confidence_method_of(project)
    tail = (compact_json(method), method not in (None, CONFIDENCE_POSTERIOR))
    if is_collection:
        columns = [
            _text_sql(_SQL_TASK_HEAD, task_type),
            _text_sql(_SQL_TASK_RESULT),
            _text_sql(_SQL_TASK_TAIL, tail),
        ]
    else:
        columns = [_text_sql(_SQL_TASK_START, (*task_type, *tail))]
    task_rows = tasks_selected(project=project, filters=filters).values_list("id", *columns)
    statuses = collection_statuses(filters)
    size = CHUNK_SIZE

    def tasks_query(after_id: int) -> tuple[str, Any]:
        # The ORM writes the filters; the rows are read with fetchall, as Django's row iteration
        # costs more than the query here.
        return task_rows.filter(id__gt=after_id).order_by("id")[:size].query.sql_with_params()

    def related_queries(ids: list[int]) -> list[tuple[str, list[Any]]]:
        where, params = _tasks_where(ids)
        if is_collection:
            return [(_SQL_CHUNK_SUBMISSIONS.replace("TASKS", where), [*params, statuses])]
        return [
            (_SQL_CHUNK_ANNOTATIONS.replace("TASKS", where), params),
            (_SQL_CHUNK_REVIEWS.replace("TASKS", where), params),
        ]

    def lines(tasks: _TaskRows, related: list[_TaskRows]) -> list[str]:
        if is_collection:
            return _collection_lines(tasks, *related, final_only=filters.final_only)
        return _standard_lines(tasks, *related)

    open_cursors: list[CursorWrapper] = []

    def send(sql: str, params: Any) -> CursorWrapper:
        cursor = connection.cursor()
        open_cursors.append(cursor)
        cursor.execute(sql, params)
        return cursor

    def read(cursor: CursorWrapper) -> _TaskRows:
        fetched = cursor.fetchall()
        cursor.close()
        open_cursors.remove(cursor)
        return fetched

    try:
        tasks: CursorWrapper | None = send(*tasks_query(0))
        done: tuple[CursorWrapper, list[CursorWrapper]] | None = None  # read, not yet written
        while tasks is not None or done is not None:
            if tasks is not None and tasks.rowcount == 0:
                read(tasks)
                tasks = None
            chunk, after, written = None, None, []
            with connection.connection.pipeline():
                if tasks is not None:
                    ids = _result_ids(tasks)
                    related = [send(*query) for query in related_queries(ids)]
                    chunk = (tasks, related)
                    if len(ids) == size:
                        after = send(*tasks_query(ids[-1]))
                if done is not None:
                    written = lines(read(done[0]), [read(cursor) for cursor in done[1]])
            done, tasks = chunk, after
            yield from written
    finally:
        for cursor in open_cursors:
            cursor.close()


def _result_ids(cursor: CursorWrapper) -> list[int]:
    # The first column of a result that has arrived, without decoding its rows yet.
    result = cursor.cursor.pgresult
    return [int(result.get_value(row, 0)) for row in range(result.ntuples)]


def _standard_lines(tasks: _TaskRows, annotations: _TaskRows, reviews: _TaskRows) -> list[str]:
    own_annotations: defaultdict[int, list[str]] = defaultdict(list)
    for task_id, text in annotations:
        own_annotations[task_id].append(text)
    own_reviews: defaultdict[int, list[str]] = defaultdict(list)
    for task_id, text in reviews:
        own_reviews[task_id].append(text)
    written = []
    for task_id, start in tasks:
        texts = own_annotations.get(task_id)
        verdicts = own_reviews.get(task_id)
        written.append(
            f'{start}{",".join(texts) if texts else ""}],"reviews":['
            f"{','.join(verdicts) if verdicts else ''}]}}\n"
        )
    return written


def _collection_lines(tasks: _TaskRows, annotations: _TaskRows, *, final_only: bool) -> list[str]:
    # As the Python rows of a collection project: a row per submission, holding its result, or else one empty row.
    own: defaultdict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for task_id, annotation_id, result, text in annotations:
        own[task_id].append((annotation_id, result, text))
    written = []
    for task_id, head, result, tail in tasks:
        submissions = own.get(task_id, ())
        for annotation_id, own_result, text in submissions:
            written.append(
                f'{head},"result":{own_result}{tail},"annotation_id":{annotation_id},'
                f'"annotations":[{text}],"reviews":[]}}\n'
            )
        if not submissions and not final_only:
            written.append(
                f'{head},"result":{result}{tail},"annotation_id":null,'
                '"annotations":[],"reviews":[]}\n'
            )
    return written
