"""Import and export jobs analyse the tables they touch when those changed much (PostgreSQL)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from labeling.services.exports.jobs import export_job_create
from labeling.services.imports.batches import import_create_from_upload, tasks_create
from tests import table_statistics
from tests.labeling.factories import make_project
from tests.table_statistics import analyse_now, flush_activity_counts

# Committed for real: PostgreSQL's activity statistics count only what other sessions could see.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

TABLES = ("labeling_task", "labeling_workslot", "labeling_annotation", "labeling_review")


def analyze_counts():
    return table_statistics.analyze_counts(TABLES)


@pytest.fixture
def fresh_statistics():
    """Start from tables analysed while empty, with no changes counted since."""
    analyse_now(TABLES)


def upload(project, count):
    lines = "".join(json.dumps({"text": f"item {i}"}) + "\n" for i in range(count))
    return import_create_from_upload(
        project=project, upload=SimpleUploadedFile("tasks.jsonl", lines.encode()), actor=None
    )


def test_an_import_of_more_rows_than_the_threshold_analyses_its_tables(settings, fresh_statistics):
    settings.ANALYZE_AFTER_ROWS = 50
    project = make_project()
    before = analyze_counts()

    job = upload(project, 60)

    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    after = analyze_counts()
    assert after["labeling_task"] == before["labeling_task"] + 1
    assert after["labeling_workslot"] == before["labeling_workslot"] + 1


def test_an_import_below_the_threshold_leaves_the_statistics_alone(settings, fresh_statistics):
    settings.ANALYZE_AFTER_ROWS = 1_000
    project = make_project()
    before = analyze_counts()

    job = upload(project, 60)

    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert analyze_counts() == before


def test_an_export_job_first_analyses_tables_with_many_rows_not_analysed(
    settings, fresh_statistics
):
    settings.ANALYZE_AFTER_ROWS = 50
    project = make_project()
    tasks_create(project=project, tasks=[{"text": f"item {i}"} for i in range(60)], actor=None)
    flush_activity_counts()
    before = analyze_counts()

    job = export_job_create(
        project=project, file_format="jsonl", filters={"final_only": False}, actor=None
    )

    job.refresh_from_db()
    assert (job.status, job.rows_written) == ("succeeded", 60)
    after = analyze_counts()
    assert after["labeling_task"] == before["labeling_task"] + 1
    assert after["labeling_annotation"] == before["labeling_annotation"]


def test_an_export_job_leaves_recently_analysed_tables_alone(settings, fresh_statistics):
    settings.ANALYZE_AFTER_ROWS = 50
    project = make_project()
    tasks_create(project=project, tasks=[{"text": f"item {i}"} for i in range(60)], actor=None)
    flush_activity_counts()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_task")
    flush_activity_counts()
    before = analyze_counts()

    job = export_job_create(
        project=project, file_format="jsonl", filters={"final_only": False}, actor=None
    )

    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert analyze_counts() == before


def test_autovacuum_cleans_the_queue_tables_after_one_percent_of_changes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class"
            " WHERE relname IN ('labeling_workslot', 'labeling_lease') ORDER BY relname"
        )
        options = {name: set(values or []) for name, values in cursor.fetchall()}

    expected = {
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_vacuum_threshold=1000",
        "autovacuum_analyze_scale_factor=0.02",
    }
    assert options == {"labeling_lease": expected, "labeling_workslot": expected}
