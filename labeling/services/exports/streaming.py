"""Export delivery: an export as bytes in its file format, streamed or named for a file.

Small exports stream straight to the client (`export_stream`); larger ones become export jobs
(`labeling.services.exports.jobs`) that write the same bytes to a file. On PostgreSQL the
database writes JSON Lines itself (`labeling.services.exports.postgres_jsonl`); elsewhere, and
for the other formats, the Python rows go through the writers of `labeling.export_formats`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.utils import timezone

from labeling.export_formats import FORMATS, write_lines
from labeling.models import Project
from labeling.services.exports.filters import ExportFilters, filters_clean, format_clean
from labeling.services.exports.postgres_jsonl import fast_jsonl_supported, jsonl_lines
from labeling.services.exports.rows import rows_read

DEFAULT_DIRECT_MAX_ROWS = 10_000


def export_direct_max_rows() -> int:
    """Return the largest export that streams straight to the client instead of becoming a job."""
    return int(getattr(settings, "EXPORT_DIRECT_MAX_ROWS", DEFAULT_DIRECT_MAX_ROWS))


def export_stream(*, project: Project, file_format: str, **filters: Any) -> Iterator[bytes]:
    """Return the export as a stream of bytes chunks in `file_format` (jsonl, csv, conll).

    Checks the format and the filters (those of `export_rows`) now; raises ValidationFailed
    naming format (CoNLL is only for NER projects), since, until or batch.
    """
    file_format = format_clean(project=project, file_format=file_format)
    cleaned = filters_clean(project=project, **filters)
    items, writer = items_and_writer(project=project, filters=cleaned, file_format=file_format)
    return writer(items)


def items_and_writer(
    *, project: Project, filters: ExportFilters, file_format: str
) -> tuple[Iterator[Any], Callable[[Iterable[Any]], Iterator[bytes]]]:
    """Return the export's items, one per row, and the writer that turns them into bytes.

    The items are the row dicts of `rows_read`, or on PostgreSQL for JSON Lines the lines the
    database wrote (`jsonl_lines`).
    """
    if file_format == "jsonl" and fast_jsonl_supported():
        return jsonl_lines(project=project, filters=filters), write_lines
    return rows_read(project=project, filters=filters), FORMATS[file_format].writer


def export_filename(*, project: Project, file_format: str, job_id: int | None = None) -> str:
    """Return the file name an export is delivered under."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    job = f"-{job_id}" if job_id is not None else ""
    return f"project-{project.pk}-export{job}-{stamp}.{FORMATS[file_format].extension}"
