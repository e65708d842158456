"""Portal pages of imports: start one (upload or URL), follow its progress, read its report of bad lines."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from labeling import policy
from labeling.forms.imports import ImportLocationForm, ImportUploadForm
from labeling.models import ImportJob
from labeling.portal import labeling_access, project_for_request
from labeling.services.imports import batches as import_services
from labeling.views.projects import project_page, project_url


def _import_started(request: HttpRequest, job: ImportJob) -> HttpResponse:
    messages.success(
        request, f"Import #{job.pk} of {job.source} started; its row below shows how it goes."
    )
    return redirect(project_url(job.project_id, "imports"))


@labeling_access
@require_POST
def import_upload(request: HttpRequest, project_id: int) -> HttpResponse:
    """Keep an uploaded file and import its tasks in the background."""
    project = project_for_request(request, project_id)
    form = ImportUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = import_services.import_create_from_upload(
                project=project,
                upload=form.cleaned_data["file"],
                actor=request_user(request),
                file_format=form.cleaned_data["format"] or None,
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            return _import_started(request, job)
    return project_page(request, project, upload_form=form)


@labeling_access
@require_POST
def import_location(request: HttpRequest, project_id: int) -> HttpResponse:
    """Import tasks from an http(s) URL or a cloud object URI in the background."""
    project = project_for_request(request, project_id)
    form = ImportLocationForm(request.POST)
    if form.is_valid():
        try:
            job = import_services.import_create_from_location(
                project=project,
                location=form.cleaned_data["url"],
                actor=request_user(request),
                file_format=form.cleaned_data["format"] or None,
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            return _import_started(request, job)
    return project_page(request, project, location_form=form)


@labeling_access
@require_GET
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    """One import: its counts, and each bad line with the field and what is wrong."""
    job = get_object_or_404(policy.imports_managed_by(request.user), pk=import_id)
    return render(
        request,
        "labeling/import_detail.html",
        {"job": job, "progress": import_services.import_progress(job)},
    )


@labeling_access
@require_GET
def import_row(request: HttpRequest, import_id: int) -> HttpResponse:
    """One import's table row; the project page polls it while the import runs."""
    job = get_object_or_404(policy.imports_managed_by(request.user), pk=import_id)
    return render(
        request,
        "labeling/_import_row.html",
        {"job": job, "progress": import_services.import_progress(job)},
    )
