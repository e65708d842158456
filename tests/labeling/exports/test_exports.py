"""Exports: JSONL, CSV and CoNLL writers, filters, background jobs, the API, queries and memory.

Projects, tasks and annotations are made with the ORM directly: the queue and completion services
that normally produce completed tasks are written separately.
"""

import csv
import io
import itertools
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS

from accounts.models import Role
from core.errors import ValidationFailed
from labeling import export_formats as writers
from labeling.models import (
    Annotation,
    ExportJob,
    ImportJob,
    Task,
    WebhookDelivery,
    WebhookEndpoint,
)
from labeling.services.exports import jobs as export_jobs
from labeling.services.exports import rows as python_rows
from labeling.services.exports.jobs import export_job_create, export_job_run
from labeling.services.exports.rows import export_count, export_rows
from labeling.services.exports.streaming import export_stream
from tests.factories import make_user
from tests.labeling.factories import make_customer, make_customer_user, make_project_row

# This module is its own URLconf, so the export API is reachable before config/urls.py includes it.
urlpatterns = [path("api/v1/", include("labeling.api.exports"))]

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls(__name__),
    pytest.mark.usefixtures("media_of_the_test"),
]

SAMPLES = {
    "single_label": (
        {"text": 'Great phone, "awful" battery;\nsecond line, café 🎉'},
        {"label": "positive"},
    ),
    "multi_label": (
        {"text": "Election results, then the match"},
        {"labels": ["sports", "politics"]},
    ),
    "ner": (
        {"text": "Marie Curie moved to Paris in 1891."},
        {
            "spans": [
                {"start": 0, "end": 11, "label": "PER"},
                {"start": 21, "end": 26, "label": "LOC"},
            ]
        },
    ),
    "bbox": (
        {"image": "https://images.example.test/street.jpg", "width": 640, "height": 480},
        {"boxes": [{"x": 10.5, "y": 20, "w": 30, "h": 40.25, "label": "car"}]},
    ),
}
COMPLETED_AT = datetime(2025, 1, 31, 12, 30, 5, 123000, tzinfo=UTC)


# --- Building data -------------------------------------------------------------------------


def make_batch(project):
    return ImportJob.objects.create(
        project=project, source_kind="api", source="test", file_format="jsonl"
    )


def add_task(
    project,
    *,
    data=None,
    result=None,
    annotations=(),
    completed=True,
    completed_at=COMPLETED_AT,
    created_at=None,
    **fields,
):
    """A task with annotations given as (author, result) or (author, result, status)."""
    default_data, default_result = SAMPLES[project.task_type]
    task = Task.objects.create(
        project=project,
        data=data if data is not None else default_data,
        result=(result if result is not None else default_result) if completed else None,
        status="completed" if completed else "open",
        completed_at=completed_at if completed else None,
        created_at=created_at or timezone.now(),
        annotations_count=len(annotations),
        **fields,
    )
    for index, (author, annotation_result, *status) in enumerate(annotations):
        Annotation.objects.create(
            task=task,
            project=project,
            author=author,
            result=annotation_result,
            status=status[0] if status else "accepted",
            instructions_version=2 + index % 2,
            active_seconds=30 + index,
            submitted_at=COMPLETED_AT - timedelta(minutes=10 - index),
        )
    return task


def stream_bytes(**kwargs):
    return b"".join(export_stream(**kwargs))


def jsonl(body):
    return [json.loads(line) for line in body.decode().splitlines()]


def csv_rows(body):
    return list(csv.DictReader(io.StringIO(body.decode(), newline="")))


def parse_time(text):
    return datetime.fromisoformat(text) if text else None


def conll_blocks(body):
    """{task_id: [(token, tag), ...]} from a CoNLL export."""
    blocks = {}
    for block in body.decode().split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        comments = dict(line[2:].split(" = ", 1) for line in lines if line.startswith("# "))
        tokens = [tuple(line.split(" ")) for line in lines if not line.startswith("# ")]
        blocks[int(comments["task_id"])] = tokens
    return blocks


def spans_from_bio(text, tagged):
    """Turn (token, tag) lines back into character spans, finding each token in the text."""
    spans, position, current = [], 0, None
    for token, tag in tagged:
        start = text.index(token, position)
        end = position = start + len(token)
        if tag.startswith("B-"):
            current = {"start": start, "end": end, "label": tag[2:]}
            spans.append(current)
        elif tag.startswith("I-"):
            assert current is not None and current["label"] == tag[2:]
            current["end"] = end
        else:
            current = None
    return spans


@pytest.fixture
def annotators():
    return [make_user(Role.ANNOTATOR) for _ in range(3)]


# --- Round trips ---------------------------------------------------------------------------


def expected_provenance(task):
    return [
        {
            "annotation_id": a.pk,
            "annotator_id": a.author_id,
            "revision": a.revision,
            "status": a.status,
            "result": a.result,
            "submitted_at": a.submitted_at,
            "active_seconds": a.active_seconds,
            "instructions_version": a.instructions_version,
            "corrects": a.corrects_id,
        }
        for a in task.annotations.order_by("submitted_at", "id")
    ]


def make_round_trip_tasks(project, annotators):
    result = SAMPLES[project.task_type][1]
    full = add_task(
        project,
        annotations=[(annotators[0], result), (annotators[1], result, "rejected")],
        external_id="doc-1",
        meta={"source": "crawl", "lang": "en"},
        agreement=2 / 3,
        import_job=make_batch(project),
    )
    bare = add_task(project, annotations=[(annotators[2], result)])
    return [full, bare]


@pytest.mark.parametrize("task_type", ["single_label", "multi_label", "ner", "bbox"])
def test_jsonl_gives_back_every_stored_field_of_each_task(task_type, annotators):
    project = make_project_row(make_customer(), task_type)
    tasks = make_round_trip_tasks(project, annotators)

    rows = jsonl(stream_bytes(project=project, file_format="jsonl"))

    assert [row["task_id"] for row in rows] == [t.pk for t in tasks]
    for row, task in zip(rows, tasks, strict=True):
        assert row["external_id"] == task.external_id
        assert row["task_type"] == task_type
        assert row["status"] == "completed"
        assert row["data"] == task.data
        assert row["meta"] == task.meta
        assert row["result"] == task.result
        assert row["agreement"] == task.agreement
        assert row["confidence"] == task.confidence
        assert row["review_level"] == task.review_level
        assert row["reviews"] == []
        assert row["is_tie"] is task.is_tie
        assert parse_time(row["completed_at"]) == task.completed_at
        assert row["batch"] == task.import_job_id
        assert row["annotation_id"] is None
        got = [{**a, "submitted_at": parse_time(a["submitted_at"])} for a in row["annotations"]]
        assert got == expected_provenance(task)


@pytest.mark.parametrize("task_type", ["single_label", "multi_label", "ner", "bbox"])
def test_csv_gives_back_every_column_of_each_task(task_type, annotators):
    project = make_project_row(make_customer(), task_type)
    tasks = make_round_trip_tasks(project, annotators)

    rows = csv_rows(stream_bytes(project=project, file_format="csv"))

    assert [tuple(rows[0])] == [writers.CSV_COLUMNS]
    assert [int(row["task_id"]) for row in rows] == [t.pk for t in tasks]
    for row, task in zip(rows, tasks, strict=True):
        counted = task.annotations.exclude(status="rejected").order_by("submitted_at", "id")
        assert row["external_id"] == (task.external_id or "")
        assert row["text"] == task.data.get("text", "")
        assert row["image"] == task.data.get("image", "")
        assert json.loads(row["result"]) == task.result
        assert row["label"] == (task.result["label"] if task_type == "single_label" else "")
        assert (float(row["agreement"]) if row["agreement"] else None) == task.agreement
        assert row["is_tie"] == "false"
        assert parse_time(row["completed_at"]) == task.completed_at
        assert row["annotators"] == ";".join(str(a.author_id) for a in counted)
        assert row["instructions_versions"] == ";".join(
            str(v) for v in sorted({a.instructions_version for a in counted})
        )
        assert row["batch"] == (str(task.import_job_id) if task.import_job_id else "")


def test_csv_shows_a_consensus_tie_with_no_label(annotators):
    project = make_project_row(make_customer(), "single_label", pipeline="consensus")
    tie = {"label": None, "tied": ["positive", "negative"]}
    add_task(
        project,
        result=tie,
        is_tie=True,
        agreement=0.5,
        annotations=[
            (annotators[0], {"label": "positive"}),
            (annotators[1], {"label": "negative"}),
        ],
    )

    (row,) = csv_rows(stream_bytes(project=project, file_format="csv"))

    assert row["label"] == ""
    assert row["is_tie"] == "true"
    assert json.loads(row["result"]) == tie
    assert row["annotators"] == f"{annotators[0].pk};{annotators[1].pk}"


@pytest.mark.parametrize(
    ("pipeline", "method", "expected"),
    [
        ("consensus", "majority", ("vote_share", 0.75)),
        ("consensus", "dawid_skene", ("posterior", None)),
        ("standard", "majority", (None, None)),
    ],
)
def test_jsonl_names_what_the_confidence_is_and_gives_a_vote_share_under_that_name(
    annotators, pipeline, method, expected
):
    project = make_project_row(make_customer(), "single_label", pipeline=pipeline)
    project.aggregation_method = method
    project.save(update_fields=["aggregation_method"])
    add_task(project, confidence=0.75, annotations=[(annotators[0], {"label": "positive"})])

    (row,) = jsonl(stream_bytes(project=project, file_format="jsonl"))

    assert (row["confidence_method"], row["vote_share"]) == expected
    assert row["confidence"] == 0.75  # unchanged, for the readers that use it


def test_csv_adds_the_confidence_method_and_vote_share_as_its_last_columns(annotators):
    project = make_project_row(make_customer(), "single_label", pipeline="consensus")
    add_task(project, confidence=0.5, annotations=[(annotators[0], {"label": "positive"})])

    (row,) = csv_rows(stream_bytes(project=project, file_format="csv"))

    assert writers.CSV_COLUMNS[-2:] == ("confidence_method", "vote_share")
    assert (row["confidence"], row["confidence_method"], row["vote_share"]) == (
        "0.5",
        "vote_share",
        "0.5",
    )


def test_conll_gives_back_the_final_spans_of_each_task(annotators):
    project = make_project_row(make_customer(), "ner")
    texts = [
        ("Ada Lovelace met Charles Babbage in London.", [(0, 12, "PER"), (17, 32, "PER")]),
        ("Nothing to see here", []),
        ("Acme Corp. opened in Nairobi on 3 May 2024.", [(0, 10, "ORG"), (21, 28, "LOC")]),
    ]
    tasks = [
        add_task(
            project,
            data={"text": text},
            result={"spans": [{"start": s, "end": e, "label": label} for s, e, label in spans]},
            annotations=[(annotators[0], {"spans": []})],
        )
        for text, spans in texts
    ]

    blocks = conll_blocks(stream_bytes(project=project, file_format="conll"))

    assert list(blocks) == [t.pk for t in tasks]
    for task in tasks:
        assert spans_from_bio(task.data["text"], blocks[task.pk]) == task.result["spans"]


def test_conll_matches_a_hand_checked_sentence_exactly():
    project = make_project_row(make_customer(), "ner")
    task = add_task(
        project,
        data={"text": "Marie Curie moved to Paris in 1891."},
        result={
            "spans": [
                {"start": 0, "end": 11, "label": "PER"},
                {"start": 21, "end": 26, "label": "LOC"},
            ]
        },
        external_id="bio-7",
    )

    body = stream_bytes(project=project, file_format="conll").decode()

    assert body == (
        f"# task_id = {task.pk}\n"
        "# external_id = bio-7\n"
        "Marie B-PER\n"
        "Curie I-PER\n"
        "moved O\n"
        "to O\n"
        "Paris B-LOC\n"
        "in O\n"
        "1891 O\n"
        ". O\n"
        "\n"
    )


def test_conll_counts_offsets_in_code_points_through_accents_and_emoji():
    project = make_project_row(make_customer(), "ner")
    text = "José visitó São Paulo 🎉 ayer"
    task = add_task(
        project,
        data={"text": text},
        result={
            "spans": [
                {"start": 0, "end": 4, "label": "PER"},
                {"start": 12, "end": 21, "label": "LOC"},
            ]
        },
    )

    body = stream_bytes(project=project, file_format="conll").decode()

    assert text[0:4] == "José" and text[12:21] == "São Paulo"
    assert body == (
        f"# task_id = {task.pk}\nJosé B-PER\nvisitó O\nSão B-LOC\nPaulo I-LOC\n🎉 O\nayer O\n\n"
    )


def test_tokens_keep_combining_accents_and_multi_code_point_emoji_whole():
    text = "Jose\u0301 👍🏽 👩\u200d💻 ok, fine"

    tokens = writers.tokenize(text)

    assert [t for t, _, _ in tokens] == ["Jose\u0301", "👍🏽", "👩\u200d💻", "ok", ",", "fine"]
    assert all(text[start:end] == token for token, start, end in tokens)


def test_bio_tags_a_span_after_an_emoji_by_code_point_offsets():
    text = "🎉🎉 Nairobi"
    tokens = writers.tokenize(text)

    tags = writers.bio_tags(tokens, [{"start": 3, "end": 10, "label": "LOC"}])

    assert list(zip([t for t, _, _ in tokens], tags, strict=True)) == [
        ("🎉", "O"),
        ("🎉", "O"),
        ("Nairobi", "B-LOC"),
    ]


def test_bio_gives_overlapping_spans_to_the_earlier_span_and_labels_without_spaces():
    tokens = writers.tokenize("New York City Hall")
    spans = [
        {"start": 0, "end": 13, "label": "big place"},
        {"start": 9, "end": 18, "label": "BUILDING"},
    ]

    tags = writers.bio_tags(tokens, spans)

    assert tags == ["B-big_place", "I-big_place", "I-big_place", "B-BUILDING"]


def test_conll_marks_a_task_without_final_spans():
    project = make_project_row(make_customer(), "ner")
    task = add_task(project, data={"text": "Open task"}, completed=False)

    body = stream_bytes(project=project, file_format="conll", final_only=False).decode()

    assert body == f"# task_id = {task.pk}\n# result = none\nOpen O\ntask O\n\n"


def test_exports_identify_annotators_by_id_never_by_email(annotators):
    project = make_project_row(make_customer(), "ner")
    add_task(project, annotations=[(a, SAMPLES["ner"][1]) for a in annotators])

    bodies = [stream_bytes(project=project, file_format=f) for f in ("jsonl", "csv", "conll")]

    for body in bodies:
        for person in annotators:
            assert person.email.encode() not in body
    assert {a["annotator_id"] for a in jsonl(bodies[0])[0]["annotations"]} == {
        a.pk for a in annotators
    }


# --- Pipelines and filters -----------------------------------------------------------------


def test_collection_gives_one_row_per_accepted_annotation(annotators):
    project = make_project_row(make_customer(), "single_label", pipeline="collection")
    task = add_task(
        project,
        annotations=[
            (annotators[0], {"label": "positive"}),
            (annotators[1], {"label": "negative"}, "rejected"),
            (annotators[2], {"label": "neutral"}),
        ],
    )
    accepted = list(task.annotations.filter(status="accepted").order_by("submitted_at"))

    rows = jsonl(stream_bytes(project=project, file_format="jsonl"))

    assert export_count(project=project) == 2
    assert [(r["task_id"], r["annotation_id"]) for r in rows] == [(task.pk, a.pk) for a in accepted]
    assert [r["result"] for r in rows] == [a.result for a in accepted]
    assert [[p["annotator_id"] for p in r["annotations"]] for r in rows] == [
        [a.author_id] for a in accepted
    ]


def test_collection_export_of_all_tasks_keeps_tasks_without_submissions(annotators):
    project = make_project_row(make_customer(), "single_label", pipeline="collection")
    started = add_task(
        project,
        completed=False,
        annotations=[
            (annotators[0], {"label": "positive"}, "submitted"),
            (annotators[1], {"label": "negative"}, "rejected"),
        ],
    )
    untouched = add_task(project, completed=False)

    rows = list(export_rows(project=project, final_only=False))

    assert export_count(project=project, final_only=False) == len(rows) == 2
    assert [(r["task_id"], r["result"]) for r in rows] == [
        (started.pk, {"label": "positive"}),
        (untouched.pk, None),
    ]


def test_final_only_leaves_out_open_tasks_and_all_includes_them():
    project = make_project_row(make_customer())
    done = add_task(project)
    still_open = add_task(project, completed=False)

    final = [r["task_id"] for r in export_rows(project=project)]
    everything = [r["task_id"] for r in export_rows(project=project, final_only=False)]

    assert final == [done.pk]
    assert everything == [done.pk, still_open.pk]
    assert export_count(project=project) == 1
    assert export_count(project=project, final_only=False) == 2


def test_since_and_until_bound_the_completion_time_including_since_excluding_until():
    project = make_project_row(make_customer())
    day = [datetime(2025, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    first, second, third = (add_task(project, completed_at=d) for d in day)

    rows = export_rows(project=project, since="2025-01-02", until="2025-01-03T00:00:00Z")
    after = export_rows(project=project, since=day[1])

    assert [r["task_id"] for r in rows] == [second.pk]
    assert [r["task_id"] for r in after] == [second.pk, third.pk]
    assert export_count(project=project, until=day[1]) == 1  # only `first`
    assert first.pk not in {r["task_id"] for r in after}


def test_exporting_all_tasks_filters_by_creation_time():
    project = make_project_row(make_customer())
    add_task(project, completed=False, created_at=datetime(2025, 3, 1, tzinfo=UTC))
    recent = add_task(project, completed=False, created_at=datetime(2025, 3, 2, 8, 0, tzinfo=UTC))

    rows = export_rows(project=project, final_only=False, since="2025-03-02T00:00:00+00:00")

    assert [r["task_id"] for r in rows] == [recent.pk]


def test_batch_keeps_only_the_tasks_of_that_import():
    project = make_project_row(make_customer())
    batch = make_batch(project)
    in_batch = add_task(project, import_job=batch)
    add_task(project, import_job=make_batch(project))
    add_task(project)

    rows = list(export_rows(project=project, batch_id=batch.pk))

    assert [r["task_id"] for r in rows] == [in_batch.pk]
    assert rows[0]["batch"] == batch.pk


def test_filters_are_checked_before_any_row_is_read():
    project = make_project_row(make_customer())

    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationFailed) as error:
        export_stream(project=project, file_format="jsonl", since="last tuesday")

    assert error.value.extra["fields"].keys() == {"since"}
    assert len(queries) == 0


# --- API -----------------------------------------------------------------------------------


def export_url(project, **query):
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/projects/{project.pk}/export/" + (f"?{suffix}" if suffix else "")


@pytest.fixture
def owner(client, customer):
    user = make_customer_user(customer)
    client.force_login(user)
    return user


@pytest.mark.parametrize(
    ("file_format", "content_type"),
    [
        ("jsonl", "application/x-ndjson; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"),
        ("conll", "text/plain; charset=utf-8"),
    ],
)
def test_small_export_streams_straight_to_the_client_as_an_attachment(
    client, owner, customer, file_format, content_type
):
    project = make_project_row(customer, "ner")
    add_task(project)
    add_task(project)

    response = client.get(export_url(project, format=file_format))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Content-Disposition"].endswith(f'.{file_format}"')
    assert b"".join(response.streaming_content) == stream_bytes(
        project=project, file_format=file_format
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2025-13-01"}, "until"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "until"),
        ({"batch": "first"}, "batch"),
        ({"batch": "99999999999999999999"}, "batch"),
        ({"format": "xml"}, "format"),
        ({"format": "conll"}, "format"),  # a single-label project has no spans
        ({"status": "done"}, "status"),
    ],
)
def test_bad_filter_values_are_a_400_naming_the_field(client, owner, customer, query, field):
    project = make_project_row(customer, "single_label")

    response = client.get(export_url(project, **query))

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["extra"]["fields"]) == [field]


def test_a_batch_of_another_project_is_a_400_naming_batch(client, owner, customer):
    project = make_project_row(customer)
    elsewhere = make_batch(make_project_row(customer))

    response = client.get(export_url(project, batch=elsewhere.pk))

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["batch"]


def test_large_export_becomes_a_job_whose_file_matches_the_direct_stream(
    client, owner, customer, settings, annotators, django_capture_on_commit_callbacks
):
    project = make_project_row(customer, "ner")
    for index in range(5):
        add_task(project, external_id=f"doc-{index}", annotations=[(annotators[0], {"spans": []})])
    direct = client.get(export_url(project, format="csv"))
    direct_bytes = b"".join(direct.streaming_content)
    settings.EXPORT_DIRECT_MAX_ROWS = 3

    with django_capture_on_commit_callbacks(execute=True):
        accepted = client.get(export_url(project, format="csv"))
    job = client.get(accepted["Location"]).json()
    download = client.get(job["download_url"])

    assert direct.status_code == 200
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "pending"
    assert accepted.json()["rows_total"] == 5
    assert job["status"] == "succeeded"
    assert (job["rows_written"], job["rows_total"]) == (5, 5)
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"].startswith("attachment; filename=")
    assert b"".join(download.streaming_content) == direct_bytes


def test_a_running_job_shows_rows_written_after_each_chunk(customer, owner, monkeypatch):
    project = make_project_row(customer)
    for _ in range(5):
        add_task(project)
    job = export_job_create(project=project, file_format="jsonl", filters={}, actor=owner)
    monkeypatch.setattr(export_jobs, "CHUNK_SIZE", 2)
    seen = []
    real_buffered = writers._buffered

    def watching_buffered(pieces):
        def watched():
            for piece in pieces:
                seen.append(ExportJob.objects.get(pk=job.pk).rows_written)
                yield piece

        return real_buffered(watched())

    # Watched where both JSON Lines paths hand over one piece per row: rows encoded by
    # `write_jsonl`, or on PostgreSQL the lines the database wrote (`write_lines`).
    monkeypatch.setattr(writers, "_buffered", watching_buffered)

    export_job_run(job_id=job.pk)

    assert seen == [0, 0, 2, 2, 4]
    assert ExportJob.objects.get(pk=job.pk).rows_written == 5


def test_downloading_before_the_job_is_ready_is_a_409_export_not_ready(client, owner, customer):
    project = make_project_row(customer)
    add_task(project)
    created = client.post(
        f"/api/v1/projects/{project.pk}/exports/",
        {"format": "csv"},
        content_type="application/json",
    )

    response = client.get(f"/api/v1/exports/{created.json()['id']}/download/")

    assert created.status_code == 201
    assert created.json()["download_url"] is None
    assert response.status_code == 409
    assert response.json()["code"] == "export_not_ready"
    assert response.json()["extra"] == {"status": "pending"}


def test_a_project_lists_its_export_jobs_newest_first(client, owner, customer):
    project = make_project_row(customer)
    other = make_project_row(customer)
    first = export_job_create(project=project, file_format="jsonl", filters={}, actor=owner)
    second = export_job_create(
        project=project, file_format="csv", filters={"final_only": False}, actor=owner
    )
    export_job_create(project=other, file_format="csv", filters={}, actor=owner)

    response = client.get(f"/api/v1/projects/{project.pk}/exports/")

    assert response.status_code == 200
    assert [j["id"] for j in response.json()["results"]] == [second.pk, first.pk]
    assert response.json()["results"][0]["filters"] == {
        "final_only": False,
        "since": None,
        "until": None,
        "batch_id": None,
    }


def subscribe(customer):
    return WebhookEndpoint.objects.create(
        customer=customer, url="https://hooks.example.test/quorum", secret="s3cret", events=[]
    )


def test_a_finished_job_announces_itself_by_webhook(customer, owner):
    endpoint = subscribe(customer)
    project = make_project_row(customer)
    add_task(project)
    job = export_job_create(project=project, file_format="jsonl", filters={}, actor=owner)

    export_job_run(job_id=job.pk)

    (delivery,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert delivery.event == "export.ready"
    assert delivery.payload["data"] == {
        "export_id": job.pk,
        "project_id": project.pk,
        "file_format": "jsonl",
        "rows": 1,
        "status_url": f"http://127.0.0.1:8000/api/v1/exports/{job.pk}/",
        "download_url": f"http://127.0.0.1:8000/api/v1/exports/{job.pk}/download/",
    }


def test_running_a_finished_job_again_changes_nothing(customer, owner):
    subscribe(customer)
    project = make_project_row(customer)
    add_task(project)
    job = export_job_create(project=project, file_format="jsonl", filters={}, actor=owner)
    first = export_job_run(job_id=job.pk)
    add_task(project)

    again = export_job_run(job_id=job.pk)

    assert again.status == "succeeded"
    assert (again.file.name, again.rows_written) == (first.file.name, 1)
    assert WebhookDelivery.objects.count() == 1


def test_a_job_whose_batch_is_gone_fails_with_a_message(customer, owner):
    subscribe(customer)
    project = make_project_row(customer)
    batch = make_batch(project)
    add_task(project, import_job=batch)
    job = export_job_create(
        project=project, file_format="jsonl", filters={"batch_id": batch.pk}, actor=owner
    )
    batch.delete()

    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "failed"
    assert "batch" in job.message
    assert not job.file
    assert WebhookDelivery.objects.count() == 0


def test_creating_a_job_checks_the_filters(customer, owner):
    project = make_project_row(customer)

    with pytest.raises(ValidationFailed) as error:
        export_job_create(project=project, file_format="csv", filters={"sinse": "x"}, actor=owner)

    assert list(error.value.extra["fields"]) == ["sinse"]
    assert ExportJob.objects.count() == 0


def api_call(name, project, job):
    return {
        "export": ("get", export_url(project)),
        "list": ("get", f"/api/v1/projects/{project.pk}/exports/"),
        "create": ("post", f"/api/v1/projects/{project.pk}/exports/"),
        "status": ("get", f"/api/v1/exports/{job.pk}/"),
        "download": ("get", f"/api/v1/exports/{job.pk}/download/"),
    }[name]


ENDPOINTS = ["export", "list", "create", "status", "download"]


@pytest.fixture
def foreign_export(customer):
    project = make_project_row(customer)
    add_task(project)
    job = export_job_create(project=project, file_format="jsonl", filters={}, actor=None)
    export_job_run(job_id=job.pk)
    return project, job


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_another_customers_projects_and_exports_are_not_found(client, foreign_export, endpoint):
    client.force_login(make_customer_user(make_customer("Rival")))
    method, url = api_call(endpoint, *foreign_export)

    response = getattr(client, method)(url, {"format": "jsonl"}, content_type="application/json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_annotators_may_not_export(client, foreign_export, endpoint):
    client.force_login(make_user(Role.ANNOTATOR))
    method, url = api_call(endpoint, *foreign_export)

    response = getattr(client, method)(url, {"format": "jsonl"}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_labeling_staff_may_export_any_customers_project(client, foreign_export):
    manager = make_user(Role.MANAGER, mfa=True)
    client.force_login(manager)
    project, job = foreign_export

    response = client.get(f"/api/v1/exports/{job.pk}/download/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stream_bytes(
        project=project, file_format="jsonl"
    )


def test_export_endpoints_are_in_the_openapi_schema_without_warnings(tmp_path):
    GENERATOR_STATS.reset()
    target = tmp_path / "openapi.yaml"

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--urlconf", __name__, "--file", str(target)
    )

    text = target.read_text()
    GENERATOR_STATS.reset()
    for route in (
        "/api/v1/projects/{project_id}/export/",
        "/api/v1/projects/{project_id}/exports/",
        "/api/v1/exports/{id}/",
        "/api/v1/exports/{id}/download/",
    ):
        assert f"{route}:" in text


# --- Queries and memory --------------------------------------------------------------------


def test_exporting_5_or_50_tasks_takes_the_same_three_queries(annotators):
    few = make_project_row(make_customer())
    many = make_project_row(make_customer())
    for project, size in ((few, 5), (many, 50)):
        for _ in range(size):
            add_task(project, annotations=[(a, {"label": "positive"}) for a in annotators[:2]])

    with CaptureQueriesContext(connection) as few_queries:
        few_rows = list(export_rows(project=few))
    with CaptureQueriesContext(connection) as many_queries:
        many_rows = list(export_rows(project=many))

    assert (len(few_rows), len(many_rows)) == (5, 50)
    # One chunk (CHUNK_SIZE = 2,000 tasks, more than either project has) costs three queries: its
    # tasks, then their annotations and their reviews (task_id IN ...). A chunk shorter than
    # CHUNK_SIZE is the last, so no further query looks for more.
    assert len(few_queries) == len(many_queries) == 3


def test_keyset_chunks_give_every_row_once_at_three_queries_per_chunk(monkeypatch, annotators):
    project = make_project_row(make_customer())
    elsewhere = make_project_row(make_customer())
    tasks = []
    for index in range(10):
        tasks.append(
            add_task(project, annotations=[(annotators[index % 3], {"label": "positive"})])
        )
        add_task(elsewhere)
        add_task(project, completed=False)
    monkeypatch.setattr(python_rows, "CHUNK_SIZE", 3)

    with CaptureQueriesContext(connection) as queries:
        rows = list(export_rows(project=project))

    assert [r["task_id"] for r in rows] == [t.pk for t in tasks]
    assert [len(r["annotations"]) for r in rows] == [1] * 10
    assert len(queries) == 3 * 4  # chunks of 3, 3, 3 and 1 tasks
    assert all("OFFSET" not in q["sql"].upper() for q in queries)


def test_the_api_streams_5_or_50_tasks_with_the_same_number_of_queries(client, owner, customer):
    few = make_project_row(customer)
    many = make_project_row(customer)
    for project, size in ((few, 5), (many, 50)):
        for _ in range(size):
            add_task(project)

    with CaptureQueriesContext(connection) as few_queries:
        b"".join(client.get(export_url(few)).streaming_content)
    with CaptureQueriesContext(connection) as many_queries:
        b"".join(client.get(export_url(many)).streaming_content)

    assert len(few_queries) == len(many_queries)


def test_streaming_20000_tasks_keeps_memory_to_about_one_chunk(annotators):
    project = make_project_row(make_customer())
    text = "The delivery was quick and the parcel arrived intact, five stars. " * 2
    tasks = Task.objects.bulk_create(
        [
            Task(
                project=project,
                data={"text": f"{i} {text}"},
                result={"label": "positive"},
                status="completed",
                completed_at=COMPLETED_AT,
                meta={"row": i},
            )
            for i in range(20_000)
        ],
        batch_size=2_000,
    )
    Annotation.objects.bulk_create(
        [
            Annotation(
                task_id=task.pk,
                project=project,
                author=person,
                result={"label": "positive"},
                status="accepted",
                instructions_version=1,
                active_seconds=12,
                submitted_at=COMPLETED_AT,
            )
            for task in tasks
            for person in annotators
        ],
        batch_size=2_000,
    )
    del tasks

    # Calibrate without the code under test: what merely holding rows of this shape costs, measured
    # on copies parsed back from JSON. Measured on SQLite and PostgreSQL: about 4.8 kB a row, so
    # about 96 MB for all 20,000 rows.
    sample = [json.dumps(r) for r in itertools.islice(export_rows(project=project), 2_000)]
    tracemalloc.start()
    held = [json.loads(line) for line in sample]
    row_cost = tracemalloc.get_traced_memory()[0] / len(held)
    tracemalloc.stop()
    del held, sample

    tracemalloc.start()
    written = sum(len(piece) for piece in export_stream(project=project, file_format="jsonl"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    # Bound: a quarter of holding every row (about 24 MB). Streaming peaks at about 10.4 MB: one
    # chunk of 2,000 rows with the query results they came from, plus the writer's 64 kB buffer.
    # Holding the rows peaks at about 80 MB, and a writer that kept its output (20 MB of JSON,
    # as text and again as bytes) at well over 24 MB: either fails.
    assert written > 20_000 * len(text)
    assert peak < 20_000 * row_cost / 4, f"peak {peak:,} B; one row costs {row_cost:,.0f} B"
