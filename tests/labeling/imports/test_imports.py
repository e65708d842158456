"""Imports end to end: upload, URL and S3 sources, all-or-nothing batches, duplicates, progress."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from core.errors import ValidationFailed
from labeling.models import GoldAnswer, ImportJob, Task, WorkSlot
from labeling.services.imports import batches as import_batches
from labeling.services.imports import storing as import_storing
from labeling.services.imports.batches import (
    import_create_from_location,
    import_create_from_upload,
    import_progress,
    tasks_create,
)
from tests.labeling.factories import make_customer_user, make_project

pytestmark = pytest.mark.django_db


def jsonl(*items):
    return "\n".join(json.dumps(item) for item in items).encode() + b"\n"


@pytest.fixture
def imported(django_capture_on_commit_callbacks):
    """Create an import job and run it the way the product does (enqueued on commit, eagerly here)."""

    def go(project, content, name="tasks.jsonl", **kw):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_create_from_upload(
                project=project, upload=SimpleUploadedFile(name, content), actor=None, **kw
            )
        job.refresh_from_db()
        return job

    return go


def test_a_jsonl_upload_creates_tasks_and_their_slots(imported):
    project = make_project(pipeline="consensus", overlap=3, max_overlap=3)

    job = imported(
        project, jsonl({"text": "a", "external_id": "x1"}, {"text": "b", "meta": {"src": "crm"}})
    )

    assert job.status == "succeeded", job.message
    assert job.tasks_created == 2
    assert Task.objects.filter(project=project).count() == 2
    assert WorkSlot.objects.filter(project=project).count() == 6
    project.refresh_from_db()
    assert project.tasks_total == 2
    assert import_progress(job)["progress"] == 1.0


def test_every_kind_of_bad_line_is_reported_with_its_number_and_nothing_is_stored(imported):
    project = make_project()
    content = b"\n".join(
        [
            b'{"text": "fine"}',
            b'{"text": ""}',
            b"not json at all",
            b'{"text": "ok", "pre_annotation": {"label": "horse"}}',
            b'{"text": "ok", "priority": "high"}',
            b'["an", "array"]',
            b'{"text": "fine again"}',
        ]
    )

    job = imported(project, content)

    assert job.status == "failed"
    assert job.tasks_created == 0
    assert [(e["line"], e["field"]) for e in job.errors] == [
        (2, "data.text"),
        (3, ""),
        (4, "pre_annotation.label"),
        (5, "priority"),
        (6, ""),
    ]
    assert all(e["message"] for e in job.errors)
    assert "5 line(s) are not valid; nothing was imported." in job.message
    assert not Task.objects.filter(project=project).exists()
    assert not WorkSlot.objects.exists()
    project.refresh_from_db()
    assert project.tasks_total == 0


def test_a_bad_line_after_thousands_of_good_ones_still_stores_nothing(imported):
    project = make_project()
    lines = [{"text": f"item {i}"} for i in range(5_000)] + [{"text": ""}]

    job = imported(project, jsonl(*lines))

    assert job.status == "failed"
    assert job.errors == [
        {"line": 5_001, "field": "data.text", "message": "Text is missing or empty."}
    ]
    assert not Task.objects.exists()


def test_reimporting_the_same_external_ids_updates_nothing_duplicates_nothing_and_says_so(imported):
    project = make_project()
    first = imported(
        project, jsonl({"text": "a", "external_id": "1"}, {"text": "b", "external_id": "2"})
    )

    second = imported(
        project, jsonl({"text": "CHANGED", "external_id": "1"}, {"text": "c", "external_id": "3"})
    )

    assert (first.tasks_created, second.tasks_created, second.duplicates) == (2, 1, 1)
    assert "1 line(s) had an external_id already in the project" in second.message
    assert Task.objects.get(project=project, external_id="1").data == {"text": "a"}
    assert Task.objects.filter(project=project).count() == 3


def test_the_same_external_id_twice_in_one_file_is_imported_once(imported):
    project = make_project()

    job = imported(
        project, jsonl({"text": "a", "external_id": "dup"}, {"text": "b", "external_id": "dup"})
    )

    assert (job.tasks_created, job.duplicates) == (1, 1)


def test_duplicates_across_chunks_and_with_the_project_are_skipped_first_line_winning(
    imported, monkeypatch
):
    from labeling.services.imports import storing as imports

    monkeypatch.setattr(imports, "CHUNK_SIZE", 2)
    monkeypatch.setattr(imports, "COPY_CHUNK_SIZE", 2)
    project = make_project()
    imported(project, jsonl({"text": "old", "external_id": "kept"}))
    lines = [
        {"text": "first", "external_id": "a"},
        {"text": "again in the chunk", "external_id": "a"},
        {"text": "no id"},
        {"text": "again in a later chunk", "external_id": "a"},
        {"text": "already there", "external_id": "kept"},
        {"text": "no id either"},
    ]

    job = imported(project, jsonl(*lines))

    assert (job.status, job.tasks_created, job.duplicates) == ("succeeded", 3, 3)
    assert Task.objects.get(project=project, external_id="a").data == {"text": "first"}
    assert Task.objects.get(project=project, external_id="kept").data == {"text": "old"}
    assert WorkSlot.objects.filter(project=project).count() == 4
    project.refresh_from_db()
    assert project.tasks_total == 4


def test_imported_values_reach_the_task_its_slots_and_its_gold_answer(imported):
    project = make_project(pipeline="consensus", overlap=2, max_overlap=2, queue_order="random")

    job = imported(
        project,
        jsonl(
            {"text": "a", "priority": 5, "pre_annotation": {"label": "cat"}, "meta": {"k": 1}},
            {"text": "b", "gold": {"label": "dog"}, "external_id": 7, "source": "crm"},
        ),
    )

    assert (job.status, job.tasks_created, job.duplicates) == ("succeeded", 2, 0)
    assert job.message == "Imported 2 task(s), 1 of them gold."
    project.refresh_from_db()
    assert project.tasks_total == 1
    task = Task.objects.get(project=project, is_gold=False)
    assert (task.data, task.meta, task.pre_annotation, task.priority, task.import_job_id) == (
        {"text": "a"},
        {"k": 1},
        {"label": "cat"},
        5,
        job.pk,
    )
    slots = list(WorkSlot.objects.filter(task=task))
    assert [(s.kind, s.level, s.state, s.priority) for s in slots] == [
        ("annotate", 0, "open", 5)
    ] * 2
    assert len({s.order_key for s in slots}) == 2
    gold = Task.objects.get(project=project, is_gold=True)
    assert (gold.external_id, gold.meta) == ("7", {"source": "crm"})
    assert GoldAnswer.objects.get(task=gold).result == {"label": "dog"}
    assert not WorkSlot.objects.filter(task=gold).exists()


def test_characters_that_mean_something_to_the_bulk_writer_arrive_unchanged(imported):
    # PostgreSQL stores through COPY's text format, where backslash, tab, newline and "\\N" mean
    # something; every value must still arrive exactly as sent.
    tricky = 'tab\there, newline\nthere, cr\rthere, back\\slash, \\N, \\t, quote " é 漢 🙂'
    project = make_project(labels=["\\N", "a\tb", "cat"])

    job = imported(
        project,
        jsonl(
            {
                "text": tricky,
                "external_id": "id\twith\\odd\nparts \\N",
                "meta": {"note": tricky, "nested": ["\\N", {"k\t": "v\\"}]},
                "pre_annotation": {"label": "\\N"},
            },
            {"text": "\\N", "gold": {"label": "a\tb"}},
        ),
    )

    assert job.status == "succeeded", job.errors
    task = Task.objects.get(project=project, is_gold=False)
    assert task.data == {"text": tricky}
    assert task.external_id == "id\twith\\odd\nparts \\N"
    assert task.meta == {"note": tricky, "nested": ["\\N", {"k\t": "v\\"}]}
    assert task.pre_annotation == {"label": "\\N"}
    gold = Task.objects.get(project=project, is_gold=True)
    assert gold.data == {"text": "\\N"}
    assert GoldAnswer.objects.get(task=gold).result == {"label": "a\tb"}


@pytest.mark.parametrize("name", ["gold.jsonl", "gold.csv"])
def test_an_upload_of_only_gold_lines_counts_every_stored_task(imported, name):
    project = make_project()
    content = (
        jsonl(
            {"text": "a", "gold": {"label": "cat"}},
            {"text": "b", "gold": {"label": "dog"}},
        )
        if name.endswith("jsonl")
        else b'text,gold\na,"{""label"": ""cat""}"\nb,"{""label"": ""dog""}"\n'
    )

    job = imported(project, content, name=name)

    assert (job.status, job.tasks_created, job.lines_read) == ("succeeded", 2, 2), job.message
    assert job.message == "Imported 2 task(s), 2 of them gold."
    assert Task.objects.filter(project=project, is_gold=True).count() == 2
    project.refresh_from_db()
    assert project.tasks_total == 0


def test_a_csv_upload_with_a_quote_left_open_is_refused_on_its_line(imported):
    project = make_project()
    content = b'text,meta\nfine,{}\n"open quote,{}\nswallowed,"{""k"": 1}"\n'

    job = imported(project, content, name="batch.csv")

    assert (job.status, job.tasks_created) == ("failed", 0)
    assert [(e["line"], e["field"]) for e in job.errors] == [(3, "")]
    assert "is a closing quote missing on this line?" in job.errors[0]["message"]
    assert not Task.objects.filter(project=project).exists()


def test_csv_and_json_array_uploads(imported):
    project = make_project()

    csv_job = imported(
        project, b"external_id,text,source\nc1,hello,web\nc2,world,app\n", name="batch.csv"
    )
    json_job = imported(
        project, json.dumps([{"text": "x"}, {"text": "y"}]).encode(), name="batch.json"
    )

    assert (csv_job.status, csv_job.tasks_created) == ("succeeded", 2)
    assert Task.objects.get(external_id="c1").meta == {"source": "web"}
    assert (json_job.status, json_job.tasks_created) == ("succeeded", 2)


def test_image_tasks_need_a_well_formed_url_and_size(imported):
    project = make_project(task_type="bbox", labels=["car", "bus"])

    job = imported(
        project,
        jsonl(
            {"image": "https://img.test/1.jpg", "width": 640, "height": 480},
            {"image": "nope", "width": 1, "height": 1},
        ),
    )

    assert job.status == "failed"
    assert job.errors[0]["line"] == 2
    assert job.errors[0]["field"] == "data.image"


def test_an_unknown_format_is_refused_naming_the_field():
    project = make_project()

    with pytest.raises(ValidationFailed) as error:
        import_create_from_upload(
            project=project, upload=SimpleUploadedFile("data.xlsx", b"x"), actor=None
        )

    assert "format" in error.value.extra["fields"]
    assert not ImportJob.objects.exists()


def test_a_url_to_a_private_address_is_refused_and_nothing_is_stored(
    django_capture_on_commit_callbacks,
):
    project = make_project()

    with django_capture_on_commit_callbacks(execute=True):
        job = import_create_from_location(
            project=project, location="http://127.0.0.1:9/tasks.jsonl", actor=None
        )
    job.refresh_from_db()

    assert job.status == "failed"
    assert "127.0.0.1" in job.message
    assert not Task.objects.exists()


def test_a_url_import_from_an_allowlisted_server(
    settings, file_server, django_capture_on_commit_callbacks
):
    settings.IMPORT_URL_ALLOWLIST = ["127.0.0.1"]
    project = make_project()

    with django_capture_on_commit_callbacks(execute=True):
        job = import_create_from_location(
            project=project, location=f"{file_server.base}/files/tasks.jsonl", actor=None
        )
    job.refresh_from_db()

    assert (job.status, job.tasks_created) == ("succeeded", 2)


def test_an_s3_import_works_against_the_local_fake(s3, django_capture_on_commit_callbacks):
    s3.put_object(
        Bucket="quorum-imports",
        Key="june/tasks.jsonl",
        Body=jsonl({"text": "from s3", "external_id": "s1"}),
    )
    project = make_project()

    with django_capture_on_commit_callbacks(execute=True):
        job = import_create_from_location(
            project=project, location="s3://quorum-imports/june/tasks.jsonl", actor=None
        )
    job.refresh_from_db()

    assert (job.status, job.tasks_created, job.source_kind) == ("succeeded", 1, "cloud")
    assert Task.objects.get(external_id="s1").data == {"text": "from s3"}


def test_a_missing_s3_object_fails_the_import_with_a_clear_message(
    s3, django_capture_on_commit_callbacks
):
    project = make_project()

    with django_capture_on_commit_callbacks(execute=True):
        job = import_create_from_location(
            project=project, location="s3://quorum-imports/nope.jsonl", actor=None
        )
    job.refresh_from_db()

    assert job.status == "failed"
    assert "s3://quorum-imports/nope.jsonl" in job.message


def test_running_a_finished_import_again_changes_nothing(imported):
    from labeling.services.imports.batches import import_run

    project = make_project()
    job = imported(project, jsonl({"text": "a"}))

    import_run(job_id=job.pk)

    assert Task.objects.filter(project=project).count() == 1


def test_uploading_through_the_api_starts_a_job_whose_status_shows_progress(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    # Chunks of 100 lines of about 1 kB: the file is read as the tasks are stored, so the job's
    # status is asked for (as a person waiting would) after each chunk while the import runs.
    monkeypatch.setattr(import_storing, "FIRST_CHUNK_SIZE", 100)
    monkeypatch.setattr(import_storing, "CHUNK_SIZE", 100)
    monkeypatch.setattr(import_storing, "COPY_CHUNK_SIZE", 100)
    project = make_project()
    client.force_login(make_customer_user(project.customer))
    lines = [{"text": f"{i:04d} " + "x" * 1000} for i in range(500)]
    upload = SimpleUploadedFile("tasks.jsonl", jsonl(*lines))
    seen_running: list[dict] = []
    store = import_batches.store

    def store_and_look(project, job, tasks, outcome, on_chunk=None, **options):
        def chunk_stored() -> None:
            assert on_chunk is not None
            on_chunk()
            seen_running.append(client.get(f"/api/v1/imports/{job.pk}/").json())

        return store(project, job, tasks, outcome, on_chunk=chunk_stored, **options)

    monkeypatch.setattr(import_batches, "store", store_and_look)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/projects/{project.pk}/imports/", {"file": upload})
    status = client.get(f"/api/v1/imports/{response.json()['id']}/").json()

    assert response.status_code == 202
    assert [s["status"] for s in seen_running] == ["running"] * 5
    created = [s["progress"]["tasks_created"] for s in seen_running]
    assert created == sorted(created) and created[0] < created[-1], created  # COPY may lag a chunk
    shares = [s["progress"]["progress"] for s in seen_running[:4]]
    assert 0 < shares[0] < shares[1] < shares[2] < shares[3] < 1, shares
    assert status["status"] == "succeeded"
    assert status["tasks_created"] == 500
    assert status["progress"]["progress"] == 1.0


def test_the_import_report_of_a_failed_api_upload_names_each_line(
    client, django_capture_on_commit_callbacks
):
    project = make_project()
    client.force_login(make_customer_user(project.customer))
    upload = SimpleUploadedFile("tasks.jsonl", b'{"text": "a"}\n{"text": ""}\n')

    with django_capture_on_commit_callbacks(execute=True):
        job_id = client.post(f"/api/v1/projects/{project.pk}/imports/", {"file": upload}).json()[
            "id"
        ]
    body = client.get(f"/api/v1/imports/{job_id}/").json()

    assert body["status"] == "failed"
    assert body["errors"] == [
        {"line": 2, "field": "data.text", "message": "Text is missing or empty."}
    ]


def test_sending_both_a_file_and_a_url_is_refused_naming_the_field(client):
    project = make_project()
    client.force_login(make_customer_user(project.customer))

    response = client.post(
        f"/api/v1/projects/{project.pk}/imports/",
        {"file": SimpleUploadedFile("t.jsonl", b"{}"), "url": "https://x.test/a.jsonl"},
    )

    assert response.status_code == 400
    assert "file" in response.json()["extra"]["fields"]


def test_a_duplicate_delivery_of_a_running_import_does_nothing():
    from django.utils import timezone

    from labeling.services.imports.batches import import_run

    project = make_project()
    job = import_create_from_upload(
        project=project, upload=SimpleUploadedFile("t.jsonl", jsonl({"text": "a"})), actor=None
    )
    ImportJob.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now())

    import_run(job_id=job.pk)

    assert not Task.objects.exists()
    assert ImportJob.objects.get(pk=job.pk).status == "running"


def test_an_internal_error_fails_the_import_with_a_message_and_stores_nothing(monkeypatch):
    from labeling.services.imports import storing as imports
    from labeling.services.imports.batches import import_run

    project = make_project()
    job = import_create_from_upload(
        project=project, upload=SimpleUploadedFile("t.jsonl", jsonl({"text": "a"})), actor=None
    )

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # The chunk writer of a job on this database: on PostgreSQL it runs in the write-behind thread.
    writer = "_copy_direct" if connection.vendor == "postgresql" else "_insert_chunk"
    monkeypatch.setattr(imports, writer, broken)
    with pytest.raises(RuntimeError):
        import_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "failed"
    assert "internal error" in job.message
    assert not Task.objects.exists()


@pytest.mark.postgres
def test_a_job_checks_each_chunks_references_as_it_stores_it_and_tasks_by_api_at_commit(
    imported, monkeypatch
):
    from contextlib import contextmanager

    entered: list[list[str]] = []
    real = import_storing.references_checked_per_statement

    @contextmanager
    def spy(models):
        entered.append(sorted(model._meta.db_table for model in models))
        with real(models):
            yield

    monkeypatch.setattr(import_storing, "references_checked_per_statement", spy)
    project = make_project()

    job = imported(project, jsonl({"text": "a"}, {"text": "b"}))
    tasks_create(project=project, tasks=[{"text": "c"}], actor=None)

    assert job.status == "succeeded", job.message
    assert entered == [["labeling_goldanswer", "labeling_task", "labeling_workslot"]]
    assert Task.objects.filter(project=project).count() == 3


def test_a_jobs_tasks_take_increasing_ids_in_file_order_across_chunks(imported, monkeypatch):
    monkeypatch.setattr(import_storing, "COPY_CHUNK_SIZE", 3)
    monkeypatch.setattr(import_storing, "CHUNK_SIZE", 3)
    project = make_project()

    job = imported(project, jsonl(*({"text": f"line {n}"} for n in range(11))))

    assert (job.status, job.tasks_created) == ("succeeded", 11)
    by_id = list(Task.objects.filter(project=project).order_by("pk").values_list("data", flat=True))
    assert by_id == [{"text": f"line {n}"} for n in range(11)]
    slots = WorkSlot.objects.filter(project=project)
    assert sorted(slots.values_list("task_id", flat=True)) == sorted(
        Task.objects.filter(project=project).values_list("pk", flat=True)
    )


def test_tasks_posted_by_api_take_exactly_the_ids_they_need():
    project = make_project()

    tasks_create(project=project, tasks=[{"text": "a"}, {"text": "b"}], actor=None)
    tasks_create(project=project, tasks=[{"text": "c"}], actor=None)

    ids = list(Task.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    assert ids == list(range(ids[0], ids[0] + 3))


def _stored_as(project):
    """What a project's tasks, slots and gold answers hold, leaving out ids and times."""
    tasks = [
        (
            t.external_id, t.data, t.meta, t.pre_annotation, t.priority, t.status,
            t.annotations_count, t.result, t.agreement, t.confidence, t.is_tie, t.is_gold,
            t.review_level, t.completed_at,
            sorted((s.kind, s.level, s.state, s.priority, s.lease_expires_at, s.assignee_id)
                   for s in t.slots.all()),
            None if not t.is_gold else (
                t.gold_answer.result, t.gold_answer.explanation, t.gold_answer.is_retired,
                t.gold_answer.version, t.gold_answer.updated_by_id,
            ),
        )
        for t in Task.objects.filter(project=project).order_by("pk")
    ]  # fmt: skip
    return tasks


MIXED_LINES = [
    {"text": "a", "priority": 5, "pre_annotation": {"label": "cat"}, "meta": {"k": "{x}\t"}},
    {"text": "b\\n{0}", "gold": {"label": "dog"}, "external_id": "g-1"},
    {"text": "c", "external_id": "c-1", "priority": -3},
]


def test_a_job_stores_what_tasks_posted_by_api_store(imported, caplog):
    # A job's first try COPies straight into the tables (PostgreSQL); tasks posted by API go
    # through the careful statement: every column, defaults included, must come out the same.
    consensus = {"pipeline": "consensus", "overlap": 2, "max_overlap": 2}
    by_job, by_api = make_project(**consensus), make_project(**consensus)

    with caplog.at_level("INFO", logger="labeling.services.imports.batches"):
        job = imported(by_job, jsonl(*MIXED_LINES))
    tasks_create(project=by_api, tasks=MIXED_LINES, actor=None)

    assert (job.status, job.tasks_created, job.duplicates) == ("succeeded", 3, 0), job.message
    assert "storing it carefully" not in caplog.text
    assert _stored_as(by_job) == _stored_as(by_api)
    assert WorkSlot.objects.filter(project=by_job).count() == 4  # two tasks to label, overlap 2
    assert set(Task.objects.filter(project=by_job).values_list("import_job_id", flat=True)) == {
        job.pk
    }


def test_a_job_drops_an_id_repeated_inside_a_chunk_at_once(imported, caplog):
    project = make_project()
    lines = [
        {"text": "first", "external_id": "a"},
        {"text": "second", "external_id": "a"},
        {"text": "no id"},
    ]

    with caplog.at_level("INFO", logger="labeling.services.imports.batches"):
        job = imported(project, jsonl(*lines))

    assert (job.status, job.tasks_created, job.duplicates) == ("succeeded", 2, 1), job.message
    assert "storing it carefully" not in caplog.text
    assert Task.objects.get(project=project, external_id="a").data == {"text": "first"}
    assert WorkSlot.objects.filter(project=project).count() == 2


@pytest.mark.parametrize("stored_before", [True, False], ids=["in-project", "earlier-chunk"])
def test_a_job_meeting_an_id_already_stored_is_stored_again_carefully(
    imported, caplog, monkeypatch, stored_before
):
    # Chunks of 2 lines: "kept" is either in the project before the job, or in the file's first
    # chunk and again in its second. Either way the first line with an id wins.
    monkeypatch.setattr(import_storing, "COPY_CHUNK_SIZE", 2)
    monkeypatch.setattr(import_storing, "CHUNK_SIZE", 2)
    monkeypatch.setattr(import_storing, "FIRST_CHUNK_SIZE", 2)
    project = make_project()
    if stored_before:
        imported(project, jsonl({"text": "old", "external_id": "kept"}))
    lines = [
        {"text": "new", "external_id": "b"},
        {"text": "first kept", "external_id": "kept"},
        {"text": "again", "external_id": "kept"},
        {"text": "last", "external_id": "z"},
    ]

    with caplog.at_level("INFO", logger="labeling.services.imports.batches"):
        job = imported(project, jsonl(*lines))

    expected = (2, 2) if stored_before else (3, 1)
    assert (job.status, job.tasks_created, job.duplicates) == ("succeeded", *expected)
    # Only PostgreSQL tries the direct COPY first; the ORM path reads the stored ids per chunk.
    assert ("storing it carefully" in caplog.text) is (connection.vendor == "postgresql")
    kept = "old" if stored_before else "first kept"
    assert Task.objects.get(project=project, external_id="kept").data == {"text": kept}
    assert Task.objects.filter(project=project).count() == 3
    assert (
        WorkSlot.objects.filter(project=project).count()
        == Task.objects.filter(project=project).count()
    )
