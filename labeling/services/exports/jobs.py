"""Export jobs: large exports written to a file by a background job, then announced by webhook.

`export_job_create` records the job and queues its Celery task (`labeling.jobs.export_files`)
once the transaction commits; the task calls `export_job_run`, which writes the file that
`labeling.downloads` hands out.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.errors import ValidationFailed
from core.table_statistics import tables_analyze_stale
from labeling.enqueue import job_enqueue
from labeling.models import (
    Annotation,
    ExportJob,
    ExportStatus,
    Project,
    Review,
    Task,
    WebhookEvent,
)
from labeling.services.exports.filters import ExportFilters, filters_from_mapping, format_clean
from labeling.services.exports.rows import CHUNK_SIZE, rows_count
from labeling.services.exports.streaming import export_filename, items_and_writer
from labeling.services.webhooks import webhooks_emit

logger = logging.getLogger(__name__)

# The name of the job that writes an export job's file (labeling.jobs.export_files).
EXPORT_RUN_TASK = "labeling.tasks.export_run"


@transaction.atomic
def export_job_create(
    *, project: Project, file_format: str, filters: Mapping[str, Any], actor: Any
) -> ExportJob:
    """Create an export job and run it in the background once the transaction commits.

    `filters` takes the keyword arguments of `export_rows` (final_only, since, until, batch_id).
    Raises ValidationFailed naming the bad field.
    """
    file_format = format_clean(project=project, file_format=file_format)
    cleaned = filters_from_mapping(project=project, filters=filters)
    job = ExportJob.objects.create(
        project=project,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        file_format=file_format,
        filters=cleaned.as_json(),
        rows_total=rows_count(project=project, filters=cleaned),
    )
    audit_record(
        actor=actor,
        action="export.created",
        target=job,
        after={"project": project.pk, "file_format": file_format, "filters": job.filters},
    )
    transaction.on_commit(partial(job_enqueue, EXPORT_RUN_TASK, job.pk))
    return job


def _job_start(job_id: int) -> ExportJob | None:
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.status == ExportStatus.SUCCEEDED:
            return None
        # A job found running was left by a worker that died (tasks are acked late): start over.
        job.status = ExportStatus.RUNNING
        job.rows_written = 0
        job.message = ""
        job.save(update_fields=["status", "rows_written", "message"])
        return job


def _job_fail(job_id: int, message: str) -> None:
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportStatus.FAILED, message=message[:500], finished_at=timezone.now()
    )


def export_job_run(*, job_id: int) -> ExportJob:
    """Write an export job's file, keeping `rows_written` current; then tell the customer.

    Safe to run twice: a job that already succeeded is left as it is. Failures are recorded on
    the job (status failed, with a message) and logged, not raised.
    """
    job = _job_start(job_id)
    if job is None:
        return ExportJob.objects.get(pk=job_id)
    try:
        filters = filters_from_mapping(project=job.project, filters=job.filters)
        file_format = format_clean(project=job.project, file_format=job.file_format)
    except ValidationFailed as error:
        _job_fail(job_id, f"The export's filters are no longer valid: {error.message}")
    else:
        try:
            _job_write(job, filters=filters, file_format=file_format)
        except Exception:
            logger.exception("export job %s failed", job_id)
            _job_fail(
                job_id, "The export failed unexpectedly; please try again or contact support."
            )
    return ExportJob.objects.get(pk=job_id)


def _job_write(job: ExportJob, *, filters: ExportFilters, file_format: str) -> None:
    project = job.project
    export_statistics_refresh(log_as=f"export job {job.pk}")
    ExportJob.objects.filter(pk=job.pk).update(
        rows_total=rows_count(project=project, filters=filters)
    )
    written = 0
    items, writer = items_and_writer(project=project, filters=filters, file_format=file_format)

    def counted() -> Iterator[Any]:
        # Progress is saved once per chunk of rows, so the person waiting sees it move.
        nonlocal written
        for item in items:
            yield item
            written += 1
            if written % CHUNK_SIZE == 0:
                ExportJob.objects.filter(pk=job.pk).update(rows_written=written)

    name = export_filename(project=project, file_format=file_format, job_id=job.pk)
    with tempfile.NamedTemporaryFile(prefix="quorum-export-", suffix=".part") as spool:
        for piece in writer(counted()):
            spool.write(piece)
        spool.flush()
        spool.seek(0)
        with transaction.atomic():
            job = ExportJob.objects.select_for_update().select_related("project").get(pk=job.pk)
            job.file.save(name, File(spool, name=name), save=False)
            job.status = ExportStatus.SUCCEEDED
            job.rows_total = job.rows_written = written
            job.finished_at = timezone.now()
            job.save(update_fields=["file", "status", "rows_total", "rows_written", "finished_at"])
            _emit_ready(job)


def export_statistics_refresh(*, log_as: str) -> list[str]:
    """ANALYZE the tables an export reads when they changed much since their last analysis.

    Export jobs call it before their first query: rows imported since (by many API calls, say,
    which do not analyse) would otherwise be planned as if absent, and each chunk's queries would
    crawl. Returns the tables analysed; a failure is logged, not raised.
    """
    return tables_analyze_stale([Task, Annotation, Review], purpose=f"before {log_as}")


def _emit_ready(job: ExportJob) -> None:
    site = settings.SITE_URL.rstrip("/")
    webhooks_emit(
        customer_id=job.project.customer_id,
        event=WebhookEvent.EXPORT_READY,
        payload={
            "export_id": job.pk,
            "project_id": job.project_id,
            "file_format": job.file_format,
            "rows": job.rows_written,
            "status_url": site + reverse("labeling-export-detail", kwargs={"pk": job.pk}),
            "download_url": site + reverse("labeling-export-download", kwargs={"pk": job.pk}),
        },
    )
