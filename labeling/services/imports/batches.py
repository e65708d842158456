"""Import batches: tasks arrive in batches (import jobs) that are stored whole or not at all.

One streaming pass: records are read from the job's source, validated as they are read and stored
in chunks inside one transaction; the first bad line stops storing but reading goes on so that the
report names every bad line; any error rolls the whole batch back. Memory holds one chunk, whatever
the file size. Progress goes to the cache, because the batch's own transaction is invisible to
others until it ends. A job runs in the background (`labeling.jobs.imports`); tasks posted by API
are stored at once, as a batch of their own.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import ValidationFailed
from core.table_statistics import tables_analyze_stale
from labeling.enqueue import job_enqueue
from labeling.models import (
    GoldAnswer,
    ImportJob,
    ImportSource,
    ImportStatus,
    Project,
    Task,
    WorkSlot,
)
from labeling.parsers.reading import iter_records
from labeling.parsers.records import normalise_record
from labeling.services.imports.storing import ExternalIdConflict, store
from labeling.services.imports.validation import BatchRejected, ImportOutcome, validated_tasks
from labeling.services.webhooks import webhooks_emit
from labeling.sources.opening import open_source
from labeling.sources.streams import SourceError

# The name of the job that runs an import (labeling.jobs.imports).
IMPORT_RUN_TASK = "labeling.tasks.import_run"
FORMATS = ("jsonl", "csv", "json")
MAX_API_TASKS = 1_000
# A job still "running" after this long belongs to a worker that died; it may be run again.
RUNNING_IS_STALE_AFTER = timedelta(hours=2)

logger = logging.getLogger(__name__)


def _progress_key(job_id: int) -> str:
    return f"labeling:import:{job_id}:progress"


def import_progress(job: ImportJob) -> dict[str, Any]:
    """Return what the person waiting should see: counts so far and the share read."""
    live = cache.get(_progress_key(job.pk)) if job.status == ImportStatus.RUNNING else None
    data: dict[str, Any] = {
        "lines_read": job.lines_read,
        "tasks_created": job.tasks_created,
        "duplicates": job.duplicates,
        "error_count": job.error_count,
        "processed_bytes": job.processed_bytes,
    }
    if live:
        data.update(live)
    total = job.total_bytes
    if job.status == ImportStatus.SUCCEEDED:
        data["progress"] = 1.0
    elif total:
        data["progress"] = round(min(1.0, data["processed_bytes"] / total), 4)
    else:
        data["progress"] = None
    return data


def _guess_format(name: str, given: str | None) -> str:
    fmt = (given or PurePosixPath(name.split("?")[0]).suffix.lstrip(".")).lower()
    if fmt == "ndjson":
        fmt = "jsonl"
    if fmt not in FORMATS:
        raise ValidationFailed(
            f"format: Say which format the file is in: {', '.join(FORMATS)}.",
            fields={"format": [f"One of {', '.join(FORMATS)} (from the file name or given)."]},
        )
    return fmt


def _job_create(**values: Any) -> ImportJob:
    job = ImportJob.objects.create(**values)
    audit_record(
        actor=values.get("created_by"),
        action="import.created",
        target=job,
        after={"project": job.project_id, "source_kind": job.source_kind, "source": job.source},
    )
    transaction.on_commit(partial(job_enqueue, IMPORT_RUN_TASK, job.pk))
    return job


@transaction.atomic
def import_create_from_upload(
    *, project: Project, upload: UploadedFile, actor: User | None, file_format: str | None = None
) -> ImportJob:
    """Keep the uploaded file and start importing it in the background."""
    name = upload.name or "upload"
    fmt = _guess_format(name, file_format)
    return _job_create(
        project=project,
        created_by=actor,
        source_kind=ImportSource.UPLOAD,
        source=name[:1000],
        file=upload,
        file_format=fmt,
        total_bytes=upload.size,
    )


@transaction.atomic
def import_create_from_location(
    *, project: Project, location: str, actor: User | None, file_format: str | None = None
) -> ImportJob:
    """Start importing from an http(s) URL or a cloud object URI (s3://, gs://, azure://)."""
    location = location.strip()
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if scheme in ("http", "https"):
        kind = ImportSource.URL
    elif scheme in ("s3", "gs", "azure"):
        kind = ImportSource.CLOUD
    else:
        raise ValidationFailed(
            "url: Give an http(s) URL or an s3://, gs:// or azure:// object URI.",
            fields={"url": ["Use http(s)://, s3://, gs:// or azure://."]},
        )
    if len(location) > 1000:
        raise ValidationFailed(
            "url: At most 1000 characters.", fields={"url": ["At most 1000 characters."]}
        )
    fmt = _guess_format(location, file_format)
    return _job_create(
        project=project, created_by=actor, source_kind=kind, source=location, file_format=fmt
    )


def tasks_create(*, project: Project, tasks: list[Any], actor: User | None) -> ImportOutcome:
    """Add up to 1,000 tasks posted by API, at once: all of them, or none with a report."""
    if not isinstance(tasks, list) or not tasks:
        raise ValidationFailed(
            "tasks: Give a non-empty list of tasks.", fields={"tasks": ["A non-empty list."]}
        )
    if len(tasks) > MAX_API_TASKS:
        raise ValidationFailed(
            f"tasks: At most {MAX_API_TASKS} tasks per call; upload a file for more.",
            fields={"tasks": [f"At most {MAX_API_TASKS}."]},
        )
    outcome = ImportOutcome()
    records = (normalise_record(item, line=i) for i, item in enumerate(tasks, start=1))
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                project=project,
                created_by=actor,
                source_kind=ImportSource.API,
                source="api",
                file_format="json",
                status=ImportStatus.RUNNING,
                started_at=timezone.now(),
            )
            store(project, job, validated_tasks(project, records, outcome), outcome)
            _finish(job, outcome, ImportStatus.SUCCEEDED)
    except BatchRejected:
        raise ValidationFailed(
            f"{outcome.error_count} task(s) are not valid; nothing was stored.",
            fields={
                f"tasks[{e['line'] - 1}]" + (f".{e['field']}" if e["field"] else ""): [e["message"]]
                for e in outcome.errors
            },
        ) from None
    return outcome


def _finish(job: ImportJob, outcome: ImportOutcome, status: str, message: str = "") -> None:
    job.status = status
    job.lines_read = outcome.lines_read
    job.tasks_created = outcome.created if status == ImportStatus.SUCCEEDED else 0
    job.duplicates = outcome.duplicates
    job.error_count = outcome.error_count
    job.errors = outcome.errors
    job.processed_bytes = outcome.processed_bytes or job.processed_bytes
    job.finished_at = timezone.now()
    if not message:
        if status == ImportStatus.SUCCEEDED:
            message = f"Imported {outcome.created} task(s)."
            if outcome.gold:
                message = f"Imported {outcome.created} task(s), {outcome.gold} of them gold."
            if outcome.duplicates:
                message += f" {outcome.duplicates} line(s) had an external_id already in the project; they were left unchanged."
        else:
            message = f"{outcome.error_count} line(s) are not valid; nothing was imported."
    job.message = message[:500]
    job.save()


def _store_once(job: ImportJob, outcome: ImportOutcome, *, careful: bool) -> None:
    """Read the job's source and store it in one transaction (`store`'s `careful`), marking the
    job succeeded; raises what `store` and the source raise, the transaction rolled back."""
    kind = (
        "upload"
        if job.source_kind == ImportSource.UPLOAD
        else ("url" if job.source_kind == ImportSource.URL else "cloud")
    )
    location = job.file.path if job.source_kind == ImportSource.UPLOAD else job.source
    with open_source(
        kind, location, max_bytes=settings.IMPORT_MAX_BYTES, timeout=settings.IMPORT_URL_TIMEOUT
    ) as (stream, total):
        if total and total != job.total_bytes:
            ImportJob.objects.filter(pk=job.pk).update(total_bytes=total)
            job.total_bytes = total

        def report() -> None:
            outcome.processed_bytes = stream.bytes_read
            cache.set(
                _progress_key(job.pk),
                {
                    "lines_read": outcome.lines_read,
                    "tasks_created": outcome.created,
                    "duplicates": outcome.duplicates,
                    "error_count": outcome.error_count,
                    "processed_bytes": stream.bytes_read,
                },
                timeout=3600,
            )

        with transaction.atomic():
            store(
                job.project,
                job,
                validated_tasks(job.project, iter_records(stream, job.file_format), outcome),
                outcome,
                on_chunk=report,
                own_transaction=True,
                careful=careful,
            )
            outcome.processed_bytes = stream.bytes_read
            _finish(job, outcome, ImportStatus.SUCCEEDED)


def import_run(*, job_id: int) -> ImportJob:
    """Read, validate and store one import job; safe to run again (a finished job is left alone)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
            return job
        if (
            job.status == ImportStatus.RUNNING
            and job.started_at is not None
            and timezone.now() - job.started_at < RUNNING_IS_STALE_AFTER
        ):
            return (
                job  # another worker has it (a duplicate delivery); a crashed run is retaken later
            )
        job.status, job.started_at = ImportStatus.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])
    project = job.project
    outcome = ImportOutcome()
    try:
        try:
            _store_once(job, outcome, careful=False)
        except ExternalIdConflict:
            # The file repeats an external id already in the project (stored before, by an
            # earlier chunk of the file, or by another writer meanwhile): the direct try is rolled
            # back and the file stored again with the statement that skips such lines.
            logger.info("import %s met an external id already stored; storing it carefully", job.pk)
            outcome = ImportOutcome()
            _store_once(job, outcome, careful=True)
    except BatchRejected:
        _finish(job, outcome, ImportStatus.FAILED)
    except SourceError as exc:
        _finish(job, outcome, ImportStatus.FAILED, message=exc.message)
    except Exception:
        logger.exception("import %s stopped by an internal error", job.pk)
        _finish(
            job,
            outcome,
            ImportStatus.FAILED,
            message="The import stopped because of an internal error; nothing was imported. "
            "Try again, and tell the operators if it happens again.",
        )
        raise
    finally:
        cache.delete(_progress_key(job.pk))
    if job.status == ImportStatus.SUCCEEDED:
        _statistics_refresh(project, outcome)
    _announce(job)
    return job


def _statistics_refresh(project: Project, outcome: ImportOutcome) -> None:
    """ANALYZE the tables a committed import filled, when it changed enough of them."""
    to_label = outcome.created - outcome.gold
    tables_analyze_stale(
        [Task, WorkSlot, GoldAnswer],
        purpose=f"after an import into project {project.pk}",
        changed={
            Task: outcome.created,
            WorkSlot: to_label * project.overlap,
            GoldAnswer: outcome.gold,
        },
    )


def _announce(job: ImportJob) -> None:
    with transaction.atomic():
        webhooks_emit(
            customer_id=job.project.customer_id,
            event="import.finished",
            payload={
                "import_id": job.pk,
                "project_id": job.project_id,
                "status": job.status,
                "tasks_created": job.tasks_created,
                "duplicates": job.duplicates,
                "error_count": job.error_count,
                "message": job.message,
            },
        )
