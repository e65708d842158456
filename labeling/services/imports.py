"""Imports: tasks arrive in batches that are stored whole or not at all.

One streaming pass: records are validated as they are read and inserted in chunks inside one
transaction; the first bad line stops insertion but reading goes on so that the report names every
bad line; any error rolls the whole batch back. Memory holds one chunk, whatever the file size.
Duplicates (an external_id already in the project, or earlier in the same file) are skipped and
counted, never updated. Progress goes to the cache, because the batch's own transaction is invisible
to others until it ends.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import ValidationFailed
from labeling.bulk import bulk_insert
from labeling.models import (
    GoldAnswer,
    ImportJob,
    ImportSource,
    ImportStatus,
    Project,
    QueueOrder,
    SlotKind,
    SlotState,
    Task,
    WorkSlot,
)
from labeling.schema import SchemaError, validate_result, validate_task_data
from labeling.services.gold import gold_live_count_forget

FORMATS = ("jsonl", "csv", "json")
CHUNK_SIZE = 2_000
MAX_STORED_ERRORS = 1_000
MAX_API_TASKS = 1_000
# A job still "running" after this long belongs to a worker that died; it may be run again.
RUNNING_IS_STALE_AFTER = timedelta(hours=2)

logger = logging.getLogger(__name__)


class _BatchRejected(Exception):
    """Raised inside the batch transaction to roll it back when any line was bad."""


@dataclass
class ImportOutcome:
    lines_read: int = 0
    created: int = 0
    gold: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    processed_bytes: int = 0

    def add_error(self, line: int, field_name: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"line": line, "field": field_name, "message": message})


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
    job_id = job.pk
    transaction.on_commit(lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: int) -> None:
    from labeling.jobs.imports import import_run

    import_run.delay(job_id)


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


def _validated_tasks(
    project: Project, records: Iterable[tuple[int, Any]], outcome: ImportOutcome
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line, clean task values) for good records; note each bad one in `outcome`."""
    from labeling.parsers import ParseError
    from labeling.services.queue import label_schema_of

    schema = label_schema_of(project)
    for line, record in records:
        outcome.lines_read += 1
        if isinstance(record, ParseError):
            outcome.add_error(record.line, record.field, record.message)
            continue
        try:
            data = validate_task_data(record.get("data"), task_type=project.task_type)
            pre = record.get("pre_annotation")
            if pre is not None:
                try:
                    pre = validate_result(pre, schema=schema, data=data)
                except SchemaError as exc:
                    raise SchemaError(
                        {
                            f"pre_annotation{k.removeprefix('result')}": v
                            for k, v in exc.errors.items()
                        }
                    ) from None
            gold = record.get("gold")
            if gold is not None:
                try:
                    gold = validate_result(gold, schema=schema, data=data)
                except SchemaError as exc:
                    raise SchemaError(
                        {f"gold{k.removeprefix('result')}": v for k, v in exc.errors.items()}
                    ) from None
            priority = record.get("priority")
            if priority is None or priority == "":
                priority = 0
            if (
                isinstance(priority, bool)
                or not isinstance(priority, int)
                or not -1_000_000 <= priority <= 1_000_000
            ):
                raise SchemaError({"priority": "A whole number from -1000000 to 1000000."})
        except SchemaError as exc:
            for field_name, message in exc.errors.items():
                outcome.add_error(line, field_name, message)
            continue
        yield (
            line,
            {
                "external_id": record.get("external_id"),
                "data": data,
                "meta": record.get("meta") or {},
                "pre_annotation": pre,
                "priority": priority,
                "gold": gold,
            },
        )


def _insert_chunk(
    project: Project, job: ImportJob | None, chunk: list[dict[str, Any]], outcome: ImportOutcome
) -> None:
    ids = [t["external_id"] for t in chunk if t["external_id"] is not None]
    existing = (
        set(
            Task.objects.filter(project=project, external_id__in=ids).values_list(
                "external_id", flat=True
            )
        )
        if ids
        else set()
    )
    fresh: list[dict[str, Any]] = []
    answers: dict[int, dict[str, Any]] = {}  # index in `fresh` -> gold answer
    seen: set[str] = set()
    now = timezone.now()
    job_id = job.pk if job is not None else None
    for values in chunk:
        external_id = values["external_id"]
        if external_id is not None:
            if external_id in existing or external_id in seen:
                outcome.duplicates += 1
                continue
            seen.add(external_id)
        gold = values.get("gold")
        if gold is not None:
            answers[len(fresh)] = gold
        fresh.append(
            {
                "project_id": project.pk,
                "import_job_id": job_id,
                "external_id": external_id,
                "data": values["data"],
                "meta": values["meta"],
                "pre_annotation": values["pre_annotation"],
                "priority": values["priority"],
                "is_gold": gold is not None,
                "created_at": now,
            }
        )
    if not fresh:
        return
    task_ids = bulk_insert(Task, fresh, return_ids=True)
    if answers:
        # Gold tasks get their hidden answer and no queue slots: the gold mix serves them.
        bulk_insert(
            GoldAnswer,
            [
                {"task_id": task_ids[i], "result": answer, "created_at": now, "updated_at": now}
                for i, answer in answers.items()
            ],
        )
        outcome.gold += len(answers)
        gold_live_count_forget(project.pk)
    rng = random.SystemRandom() if project.queue_order == QueueOrder.RANDOM else None
    slots = [
        {
            "project_id": project.pk,
            "task_id": task_id,
            "kind": SlotKind.ANNOTATE.value,
            "level": 0,
            "state": SlotState.OPEN.value,
            "priority": values["priority"],
            "order_key": rng.getrandbits(62) if rng else task_id,
        }
        for index, (task_id, values) in enumerate(zip(task_ids, fresh, strict=True))
        if index not in answers
        for _ in range(project.overlap)
    ]
    bulk_insert(WorkSlot, slots)
    outcome.created += len(fresh) - len(answers)


def _store(
    project: Project,
    job: ImportJob | None,
    tasks: Iterable[tuple[int, dict[str, Any]]],
    outcome: ImportOutcome,
    on_chunk: Any = None,
) -> None:
    """Insert the good tasks in chunks; stop inserting (but keep validating) after the first error."""
    chunk: list[dict[str, Any]] = []
    for _, values in tasks:
        if outcome.error_count:
            continue
        chunk.append(values)
        if len(chunk) >= CHUNK_SIZE:
            _insert_chunk(project, job, chunk, outcome)
            chunk = []
            if on_chunk:
                on_chunk()
    if chunk and not outcome.error_count:
        _insert_chunk(project, job, chunk, outcome)
    if outcome.error_count:
        raise _BatchRejected()
    Project.objects.filter(pk=project.pk).update(tasks_total=F("tasks_total") + outcome.created)


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
    from labeling.parsers import normalise_record

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
            _store(project, job, _validated_tasks(project, records, outcome), outcome)
            _finish(job, outcome, ImportStatus.SUCCEEDED)
    except _BatchRejected:
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
                message = f"Imported {outcome.created} task(s) and {outcome.gold} gold task(s)."
            if outcome.duplicates:
                message += f" {outcome.duplicates} line(s) had an external_id already in the project; they were left unchanged."
        else:
            message = f"{outcome.error_count} line(s) are not valid; nothing was imported."
    job.message = message[:500]
    job.save()


def import_run(*, job_id: int) -> ImportJob:
    """Read, validate and store one import job; safe to run again (a finished job is left alone)."""
    from labeling.parsers import iter_records
    from labeling.sources import SourceError, open_source

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
    kind = (
        "upload"
        if job.source_kind == ImportSource.UPLOAD
        else ("url" if job.source_kind == ImportSource.URL else "cloud")
    )
    location = job.file.path if job.source_kind == ImportSource.UPLOAD else job.source
    try:
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
                _store(
                    project,
                    job,
                    _validated_tasks(project, iter_records(stream, job.file_format), outcome),
                    outcome,
                    on_chunk=report,
                )
                outcome.processed_bytes = stream.bytes_read
                _finish(job, outcome, ImportStatus.SUCCEEDED)
    except _BatchRejected:
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
    _announce(job)
    return job


def _announce(job: ImportJob) -> None:
    from labeling.services.webhooks import webhooks_emit

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
