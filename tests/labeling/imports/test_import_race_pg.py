"""An import job meets an external id that another transaction stores while it runs (PostgreSQL,
committed for real): the job's direct COPY waits for that writer, fails on its id, and the job
stores its file again with the statement that skips what others stored: nothing lost or doubled."""

import json
import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from labeling.models import ImportJob, Task, WorkSlot
from labeling.services.imports import batches
from tests.labeling.factories import make_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _other_writer():
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432
    )


def _waits_for_a_lock(pid_box, timeout=20.0):
    deadline = time.monotonic() + timeout
    with _other_writer() as watcher:
        watcher.autocommit = True
        while time.monotonic() < deadline:
            if pid_box:
                waiting = watcher.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid_box[0]]
                ).fetchone()
                if waiting and waiting[0] == "Lock":
                    return True
            time.sleep(0.05)
    return False


def test_an_id_stored_meanwhile_by_another_transaction_is_skipped_by_a_careful_second_try(
    monkeypatch, caplog
):
    monkeypatch.setattr(batches, "job_enqueue", lambda *args, **kwargs: None)
    project = make_project()
    lines = [{"text": f"line {n}", "external_id": f"id-{n}"} for n in range(5)]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    job = batches.import_create_from_upload(
        project=project, upload=SimpleUploadedFile("tasks.jsonl", content), actor=None
    )
    with _other_writer() as other:
        other.execute(
            "INSERT INTO labeling_task (project_id, external_id, data, meta, priority, status,"
            " annotations_count, is_tie, created_at, is_gold, review_level)"
            " VALUES (%s, 'id-3', '{\"text\": \"theirs\"}', '{}', 0, 'open', 0, false, now(),"
            " false, 0)",
            [project.pk],
        )  # not committed yet
        pid_box: list[int] = []
        errors: list[BaseException] = []

        def run():
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pid_box.append(cursor.fetchone()[0])
                batches.import_run(job_id=job.pk)
            except BaseException as exc:  # reported by the test below
                errors.append(exc)
            finally:
                connection.close()

        importer = threading.Thread(target=run)
        with caplog.at_level("INFO", logger="labeling.services.imports.batches"):
            importer.start()
            assert _waits_for_a_lock(pid_box), "the import never waited for the other writer"
            other.commit()
            importer.join(timeout=60)

    assert not importer.is_alive() and not errors, errors
    assert "storing it carefully" in caplog.text
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.status, job.tasks_created, job.duplicates) == ("succeeded", 4, 1), job.message
    assert Task.objects.get(project=project, external_id="id-3").data == {"text": "theirs"}
    assert Task.objects.filter(project=project).count() == 5
    assert WorkSlot.objects.filter(project=project).count() == 4
