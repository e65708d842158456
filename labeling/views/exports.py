"""Portal pages of exports: download a project's labels at once, or its background file when ready."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from labeling import policy
from labeling.downloads import export_file_response
from labeling.export_formats import FORMATS as EXPORT_FORMATS
from labeling.forms.exports import ExportForm
from labeling.models import ExportStatus
from labeling.portal import batches_for_request, labeling_access, project_for_request
from labeling.services.exports.jobs import export_job_create
from labeling.services.exports.rows import export_count
from labeling.services.exports.streaming import (
    export_direct_max_rows,
    export_filename,
    export_stream,
)
from labeling.views.projects import project_page, project_url


@labeling_access
@require_POST
def export_create(request: HttpRequest, project_id: int) -> HttpResponseBase:
    """Download the labels at once when they are few; otherwise write a file in the background."""
    project = project_for_request(request, project_id)
    form = ExportForm(request.POST, project=project, batches=batches_for_request(request, project))
    if form.is_valid():
        file_format, filters = form.export_request()
        try:
            if export_count(project=project, **filters) > export_direct_max_rows():
                job = export_job_create(
                    project=project,
                    file_format=file_format,
                    filters=filters,
                    actor=request_user(request),
                )
                messages.success(
                    request,
                    f"Export #{job.pk} has {job.rows_total} rows, too many to download at once; "
                    "it is being written to a file, listed below when ready.",
                )
                return redirect(project_url(project.pk, "exports"))
            stream = export_stream(project=project, file_format=file_format, **filters)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            response = StreamingHttpResponse(
                stream, content_type=EXPORT_FORMATS[file_format].content_type
            )
            response["Content-Disposition"] = content_disposition_header(
                True, export_filename(project=project, file_format=file_format)
            )
            response["Cache-Control"] = "no-store"
            return response
    return project_page(request, project, export_form=form)


@labeling_access
@require_GET
def export_download(request: HttpRequest, export_id: int) -> HttpResponseBase:
    """The file of an export job that has succeeded."""
    job = get_object_or_404(policy.exports_managed_by(request.user), pk=export_id)
    if job.status != ExportStatus.SUCCEEDED or not job.file:
        messages.error(
            request,
            f"Export #{job.pk} failed: {job.message}"
            if job.status == ExportStatus.FAILED
            else f"Export #{job.pk} is not ready yet.",
        )
        return redirect(project_url(job.project_id, "exports"))
    return export_file_response(job)
