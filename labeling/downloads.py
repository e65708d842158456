"""The HTTP response that hands out a finished export file, shared by the API and the portal."""

from __future__ import annotations

import posixpath

from django.http import FileResponse

from core.errors import NotFound
from labeling.export_formats import FORMATS
from labeling.models import ExportJob


def export_file_response(job: ExportJob) -> FileResponse:
    """Stream a finished export's file; raise NotFound when the file is gone from storage.

    The caller checks first that the job succeeded (the API and the portal say so differently).
    """
    try:
        handle = job.file.open("rb")
    except FileNotFoundError as missing:
        raise NotFound("The export file is no longer available.") from missing
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=posixpath.basename(job.file.name or ""),
        content_type=FORMATS[job.file_format].content_type,
    )
    response["Cache-Control"] = "no-store"
    return response
