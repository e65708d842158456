"""Portal pages of the labeling engine for customers and labeling staff (managers, admins).

Projects: list, create, settings, status, instructions; imports (upload or URL, with live
progress and a report of bad lines); exports (streamed when small, else a background file);
tasks with their annotations and reviews (the project's quality page is quality's). Every page reads through `labeling.policy`, so another customer's project, task,
import or export is "not found"; people who are neither labeling staff nor customer users are
refused (403). Workers are shown by number to customers, by name to labeling staff.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from labeling import policy
from labeling.downloads import export_file_response
from labeling.export_formats import FORMATS as EXPORT_FORMATS
from labeling.forms import (
    ExportForm,
    GoldAnswerForm,
    GoldRetireForm,
    ImportLocationForm,
    ImportUploadForm,
    InstructionsForm,
    ProjectFilterForm,
    ProjectForm,
    ProjectStatusForm,
    TaskFilterForm,
)
from labeling.models import (
    ExportStatus,
    GoldAnswer,
    ImportJob,
    ImportStatus,
    Pipeline,
    Project,
    ProjectStatus,
    Task,
    TaskStatus,
)
from labeling.selectors import gold_task_scores, person_names
from labeling.services import gold as gold_services
from labeling.services import projects as project_services
from labeling.services.exports.jobs import export_job_create
from labeling.services.exports.rows import export_count
from labeling.services.exports.streaming import (
    export_direct_max_rows,
    export_filename,
    export_stream,
)
from labeling.services.imports import batches as import_services

View = Callable[..., HttpResponseBase]

PROJECTS_PER_PAGE = 25
TASKS_PER_PAGE = 50
RECENT_JOBS = 10
EXPORT_BATCH_CHOICES = 100
EXCERPT_CHARS = 120
# Each form of the project page gets its own id prefix, so that labels point at the right input.
_DETAIL_FORM_IDS = {
    "instructions_form": "instructions-%s",
    "upload_form": "upload-%s",
    "location_form": "location-%s",
    "export_form": "export-%s",
}


# The people table's columns: (sort key, heading); the key is the `sort` query parameter.
def labeling_access(view: View) -> View:
    """Portal guard: sign-in first; then 403 for anyone neither labeling staff nor a customer user."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not (policy.is_labeling_staff(request.user) or policy.is_customer_user(request.user)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def project_for_request(request: HttpRequest, project_id: int) -> Project:
    return get_object_or_404(policy.projects_managed_by(request.user), pk=project_id)


def _detail_url(project_id: int, section: str = "") -> str:
    url = reverse("labeling:project_detail", kwargs={"project_id": project_id})
    return f"{url}#{section}" if section else url


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def result_summary(result: Any) -> str:
    """Say a task's final result in a few words, for a list."""
    if result is None:
        return ""
    if isinstance(result, dict):
        if "label" in result:
            if result["label"] is None and result.get("tied"):
                return "tie: " + " / ".join(str(x) for x in result["tied"])
            return str(result["label"])
        if isinstance(result.get("labels"), list):
            return ", ".join(str(x) for x in result["labels"])
        for key, one in (("spans", "span"), ("boxes", "box")):
            if isinstance(result.get(key), list):
                n = len(result[key])
                return f"{n} {one if n == 1 else key}"
    return json.dumps(result, ensure_ascii=False)[:EXCERPT_CHARS]


def _status_actions(project: Project) -> list[tuple[str, str]]:
    """Return the (status, button text) of the status changes offered for `project`."""
    actions = []
    if project.status != ProjectStatus.ACTIVE:
        actions.append((ProjectStatus.ACTIVE.value, "Activate"))
    if project.status == ProjectStatus.ACTIVE:
        actions.append((ProjectStatus.PAUSED.value, "Pause"))
    if project.status != ProjectStatus.ARCHIVED:
        actions.append((ProjectStatus.ARCHIVED.value, "Archive"))
    return actions


def batches_for_request(request: HttpRequest, project: Project) -> list[ImportJob]:
    return list(
        policy.imports_managed_by(request.user)
        .filter(project=project, status=ImportStatus.SUCCEEDED, tasks_created__gt=0)
        .select_related(None)
        .only("id", "source")[:EXPORT_BATCH_CHOICES]
    )


def _pipeline_summary(project: Project) -> str:
    """How a task of `project` becomes final, in words that follow its settings."""
    levels = len(project.review_levels or [])
    reviewed = f"{levels} review level{'s' if levels != 1 else ''}"
    if project.pipeline == Pipeline.STANDARD:
        then = f"then {reviewed}" if levels else "final when submitted (no review)"
        return f"Standard: one annotation per task, {then}"
    if project.pipeline == Pipeline.CONSENSUS:
        unsettled = f"; unsettled tasks go to {reviewed}" if levels else ""
        return f"Consensus: independent annotations per task, aggregated{unsettled}"
    return "Collection: each submission is a result of its own"


def _gold_summary(project: Project) -> str:
    """Which tasks are gold for each person, or that there are none to serve."""
    live = gold_services.gold_live_count(project.pk)
    if not live:
        return (
            "Gold: none yet, so accuracy is not checked on gold. "
            "Import tasks with a gold answer to add some."
        )
    parts = [f"Gold: {live} task{'s' if live != 1 else ''}"]
    if project.gold_warmup:
        parts.append(
            f"each person's first {project.gold_warmup} task{'s' if project.gold_warmup != 1 else ''}"
            " are gold while they have gold tasks left to see"
        )
    rates = project.gold_rates or {}
    shares = ", ".join(
        f"{round(float(rates[standing]) * 100)}% {standing}"
        for standing in ("probation", "regular", "trusted")
        if standing in rates
    )
    if shares:
        parts.append(f"{'then ' if project.gold_warmup else ''}a share by standing ({shares})")
    if project.gold_feedback:
        parts.append("training mode")
    return "; ".join(parts)


def _render_detail(request: HttpRequest, project: Project, **forms: Any) -> HttpResponse:
    """Render the project page; `forms` are bound forms that failed, shown with their errors."""
    latest = project.instruction_versions.order_by("-version").first()
    imports = list(policy.imports_managed_by(request.user).filter(project=project)[:RECENT_JOBS])
    exports = list(policy.exports_managed_by(request.user).filter(project=project)[:RECENT_JOBS])
    defaults: dict[str, Callable[[], django_forms.Form]] = {
        "instructions_form": lambda: InstructionsForm(
            initial={"instructions": latest.body_markdown if latest else ""}
        ),
        "upload_form": ImportUploadForm,
        "location_form": ImportLocationForm,
        "export_form": lambda: ExportForm(
            project=project, batches=batches_for_request(request, project)
        ),
    }
    context: dict[str, Any] = {
        "project": project,
        "instructions": latest,
        "status_actions": _status_actions(project),
        "pipeline_summary": _pipeline_summary(project),
        "gold_summary": _gold_summary(project),
        "import_rows": [(job, import_services.import_progress(job)) for job in imports],
        "exports": exports,
    }
    for name, make in defaults.items():
        form = forms.get(name)
        if form is None:
            form = make()
        form.auto_id = _DETAIL_FORM_IDS[name]
        context[name] = form
    return render(request, "labeling/project_detail.html", context)


# --- Projects ---------------------------------------------------------------------------------


@labeling_access
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    form = ProjectFilterForm(request.GET or None)
    projects = policy.projects_managed_by(request.user).order_by("-priority", "name", "pk")
    if form.is_valid() and form.cleaned_data["status"]:
        projects = projects.filter(status=form.cleaned_data["status"])
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "labeling/project_list.html",
        {
            "form": form,
            "page": page,
            "can_create": policy.can_create_projects(request.user),
            "administers_customers": policy.customers_administered_by(request.user).exists(),
        },
    )


@labeling_access
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    """Create a project: staff choose the customer; a customer's users create for their own."""
    user = request_user(request)
    if not policy.can_create_projects(user):
        raise PermissionDenied
    is_staff = policy.is_labeling_staff(user)
    customers = policy.customers_visible_to(user) if is_staff else None
    form = ProjectForm(request.POST or None, customers=customers)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        customer = data["customer"] if is_staff else policy.customer_of(user)
        if customer is None:
            raise PermissionDenied
        try:
            project = project_services.project_create(
                customer=customer,
                name=data["name"],
                task_type=data["task_type"] or None,
                preset=data["preset"],
                instructions=data["instructions"],
                actor=user,
                **form.project_settings(),
            )
        except QuorumError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Project “{project.name}” is created.")
            return redirect(_detail_url(project.pk))
    return render(request, "labeling/project_form.html", {"form": form, "project": None})


@labeling_access
@require_GET
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    return _render_detail(request, project_for_request(request, project_id))


@labeling_access
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, project_id: int) -> HttpResponse:
    """Change a project's settings; those that shape tasks are fixed once it has tasks."""
    project = project_for_request(request, project_id)
    form = ProjectForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            project_services.project_update(
                project=project, actor=request_user(request), **form.project_settings()
            )
        except QuorumError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "The settings are saved.")
            return redirect(_detail_url(project.pk))
    return render(request, "labeling/project_form.html", {"form": form, "project": project})


@labeling_access
@require_POST
def project_status(request: HttpRequest, project_id: int) -> HttpResponse:
    """Activate, pause or archive a project."""
    project = project_for_request(request, project_id)
    form = ProjectStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose activate, pause or archive.")
        return redirect(_detail_url(project.pk))
    try:
        project = project_services.project_update(
            project=project, actor=request_user(request), status=form.cleaned_data["status"]
        )
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The project is now {project.get_status_display().lower()}.")
    return redirect(_detail_url(project.pk))


@labeling_access
@require_POST
def instructions_publish(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_request(request, project_id)
    form = InstructionsForm(request.POST)
    if form.is_valid():
        try:
            version = project_services.instructions_publish(
                project=project,
                body_markdown=form.cleaned_data["instructions"],
                actor=request_user(request),
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(
                request,
                f"Version {version.version} of the instructions is published; "
                "annotators see it from their next task.",
            )
            return redirect(_detail_url(project.pk, "instructions"))
    return _render_detail(request, project, instructions_form=form)


# --- Imports ----------------------------------------------------------------------------------


def _import_started(request: HttpRequest, job: ImportJob) -> HttpResponse:
    messages.success(
        request, f"Import #{job.pk} of {job.source} started; its row below shows how it goes."
    )
    return redirect(_detail_url(job.project_id, "imports"))


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
    return _render_detail(request, project, upload_form=form)


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
    return _render_detail(request, project, location_form=form)


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


# --- Exports ----------------------------------------------------------------------------------


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
                return redirect(_detail_url(project.pk, "exports"))
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
    return _render_detail(request, project, export_form=form)


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
        return redirect(_detail_url(job.project_id, "exports"))
    return export_file_response(job)


# --- Tasks ------------------------------------------------------------------------------------


def _task_rows(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks with a short text excerpt and image URL read by the database, not their whole data."""
    return tasks.defer("data", "meta", "pre_annotation").annotate(
        text_excerpt=Substr(KeyTextTransform("text", "data"), 1, EXCERPT_CHARS + 1),
        image_url=KeyTextTransform("image", "data"),
    )


@labeling_access
@require_GET
def task_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_request(request, project_id)
    form = TaskFilterForm(request.GET or None)
    tasks = policy.tasks_managed_by(request.user).filter(project=project).order_by("id")
    if form.is_valid():
        if form.cleaned_data["status"]:
            tasks = tasks.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["batch"]:
            tasks = tasks.filter(import_job_id=form.cleaned_data["batch"])
    page = Paginator(_task_rows(tasks), TASKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(task, result_summary(task.result)) for task in page]
    return render(
        request,
        "labeling/task_list.html",
        {"project": project, "form": form, "page": page, "rows": rows},
    )


def _task(request: HttpRequest, task_id: int) -> Task:
    return get_object_or_404(
        policy.tasks_managed_by(request.user).select_related("project", "project__customer"),
        pk=task_id,
    )


def _can_become_gold(task: Task) -> bool:
    return not task.is_gold and task.status == TaskStatus.OPEN and task.annotations_count == 0


def _render_task(request: HttpRequest, task: Task, **forms: GoldAnswerForm) -> HttpResponse:
    """Render the task page; `forms` are bound gold forms that failed, shown with their errors."""
    annotations = list(task.annotations.order_by("submitted_at", "pk"))
    reviews = list(task.reviews.order_by("created_at", "pk"))
    names = person_names(
        user_ids=[a.author_id for a in annotations] + [r.reviewer_id for r in reviews],
        with_contact=policy.is_labeling_staff(request.user),
    )
    context: dict[str, Any] = {
        "task": task,
        "project": task.project,
        "data_json": _pretty(task.data),
        "meta_json": _pretty(task.meta) if task.meta else "",
        "pre_annotation_json": _pretty(task.pre_annotation)
        if task.pre_annotation is not None
        else "",
        "result_json": _pretty(task.result) if task.result is not None else "",
        "annotations": [(a, _pretty(a.result), names.get(a.author_id, "")) for a in annotations],
        "reviews": [(r, names.get(r.reviewer_id, "")) for r in reviews],
        "gold": None,
        "gold_form": None,
        "make_gold_form": None,
    }
    if task.is_gold:
        answer = GoldAnswer.objects.filter(task_id=task.pk).first()
        if answer is not None:
            scores, mean = gold_task_scores(task_id=task.pk)
            context["gold"] = {
                "answer": answer,
                "answer_json": _pretty(answer.result),
                "scores": scores,
                "mean": mean,
            }
            context["gold_form"] = forms.get("gold_form") or GoldAnswerForm(
                initial={"answer": _pretty(answer.result), "explanation": answer.explanation}
            )
    elif "make_gold_form" in forms or _can_become_gold(task):
        context["make_gold_form"] = forms.get("make_gold_form") or GoldAnswerForm()
    for name in ("gold_form", "make_gold_form"):
        if context[name] is not None:
            context[name].auto_id = f"{name.replace('_', '-')}-%s"
    return render(request, "labeling/task_detail.html", context)


@labeling_access
@require_GET
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    """One task: what annotators saw, the customer's metadata, the result and its provenance
    (annotations, corrections, reviews); for a gold task its answer, which can be fixed."""
    return _render_task(request, _task(request, task_id))


@labeling_access
@require_POST
def task_gold_set(request: HttpRequest, task_id: int) -> HttpResponse:
    """Make a task nobody worked on gold, or fix the answer of a gold task (its scores are
    recomputed)."""
    task = _task(request, task_id)
    form = GoldAnswerForm(request.POST)
    form_name = "gold_form" if task.is_gold else "make_gold_form"
    if form.is_valid():
        try:
            answer = gold_services.gold_answer_set(
                task=task,
                result=form.cleaned_data["answer"],
                explanation=form.cleaned_data["explanation"],
                actor=request_user(request),
            )
        except QuorumError as exc:
            form.add_service_error(exc)
        else:
            if answer.version == 1:
                messages.success(
                    request, f"Task #{task.pk} is now gold; it is mixed into people's work."
                )
            else:
                scores, _ = gold_task_scores(task_id=task.pk)
                messages.success(
                    request,
                    f"The answer is fixed (version {answer.version}); "
                    f"{scores} score{'' if scores == 1 else 's'} recomputed.",
                )
            return redirect(reverse("labeling:task_detail", kwargs={"task_id": task.pk}))
    return _render_task(request, task, **{form_name: form})


@labeling_access
@require_POST
def task_gold_retire(request: HttpRequest, task_id: int) -> HttpResponse:
    """Retire a gold task (no longer served; its scores stay) or restore it."""
    task = _task(request, task_id)
    form = GoldRetireForm(request.POST)
    back = reverse("labeling:task_detail", kwargs={"task_id": task.pk})
    if not form.is_valid():
        messages.error(request, "Choose retire or restore.")
        return redirect(back)
    if form.cleaned_data["back"] == "quality":
        # The quality app's page of the project (a link by name: labeling imports no quality code).
        back = reverse("quality:project_quality", kwargs={"project_id": task.project_id})
        back += "#gold"
    retired = bool(form.cleaned_data["retired"])
    try:
        gold_services.gold_retire(task=task, actor=request_user(request), retired=retired)
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Gold task #{task.pk} is retired: nobody is given it any more."
            if retired
            else f"Gold task #{task.pk} is served again.",
        )
    return redirect(back)


# --- Quality ----------------------------------------------------------------------------------
