"""Portal pages of projects: list, create, settings, status, instructions, and the project page
that shows its imports and exports (their forms post to `imports` and `exports`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from labeling import policy
from labeling.forms.exports import ExportForm
from labeling.forms.imports import ImportLocationForm, ImportUploadForm
from labeling.forms.projects import (
    InstructionsForm,
    ProjectFilterForm,
    ProjectForm,
    ProjectStatusForm,
)
from labeling.models import Pipeline, Project, ProjectStatus, projects_with_counts
from labeling.portal import batches_for_request, labeling_access, project_for_request
from labeling.services import gold as gold_services
from labeling.services import projects as project_services
from labeling.services.imports import batches as import_services
from workforce.selectors.checks import skill_check_get, skill_checks_list
from workforce.selectors.teams import requirement_wording, teams_visible_to

PROJECTS_PER_PAGE = 25
RECENT_JOBS = 10
# Each form of the project page gets its own id prefix, so that labels point at the right input.
_DETAIL_FORM_IDS = {
    "instructions_form": "instructions-%s",
    "upload_form": "upload-%s",
    "location_form": "location-%s",
    "export_form": "export-%s",
}


def project_url(project_id: int, section: str = "") -> str:
    """The project page's address, at its `section` (imports, exports, ...) when one is given."""
    url = reverse("labeling:project_detail", kwargs={"project_id": project_id})
    return f"{url}#{section}" if section else url


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


def _access_summary(project: Project) -> dict[str, Any]:
    """Who works on `project`, for staff: the teams it is limited to (none: every team) and its
    further skill requirements, worded as the claim words them."""
    return {
        "teams": [team.name for team in project.teams.order_by("name", "pk")],
        "requirements": [
            requirement_wording(skill_name=name, comparator=comparator, level=level)
            for name, comparator, level in project.requirements.order_by("pk").values_list(
                "skill__name", "comparator", "level"
            )
        ],
    }


def project_page(request: HttpRequest, project: Project, **forms: Any) -> HttpResponse:
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
        "skill_check": skill_check_get(check_id=project.skill_check_id)
        if project.skill_check_id
        else None,
        "access": _access_summary(project) if policy.is_labeling_staff(request.user) else None,
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


@labeling_access
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    form = ProjectFilterForm(request.GET or None)
    projects = projects_with_counts(policy.projects_managed_by(request.user)).order_by(
        "-priority", "name", "pk"
    )
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


def _access_set(project: Project, form: ProjectForm, user: User) -> None:
    """Save the form's team limit and requirements (when given or changed) through the service."""
    access = form.access_settings()
    if not access:
        return
    project_services.project_access_set(
        project=project,
        actor=user,
        teams=access.get("teams"),
        requirements=project_services.requirements_clean(access["requirements"])
        if "requirements" in access
        else None,
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
    teams = teams_visible_to(user) if is_staff else None
    checks = skill_checks_list() if is_staff else None
    form = ProjectForm(request.POST or None, customers=customers, teams=teams, checks=checks)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        customer = data["customer"] if is_staff else policy.customer_of(user)
        if customer is None:
            raise PermissionDenied
        try:
            with transaction.atomic():
                project = project_services.project_create(
                    customer=customer,
                    name=data["name"],
                    task_type=data["task_type"] or None,
                    preset=data["preset"],
                    instructions=data["instructions"],
                    actor=user,
                    **form.project_settings(),
                )
                _access_set(project, form, user)
        except QuorumError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Project “{project.name}” is created.")
            return redirect(project_url(project.pk))
    return render(request, "labeling/project_form.html", {"form": form, "project": None})


@labeling_access
@require_GET
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    return project_page(request, project_for_request(request, project_id))


@labeling_access
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, project_id: int) -> HttpResponse:
    """Change a project's settings; those that shape tasks are fixed once it has tasks."""
    project = project_for_request(request, project_id)
    user = request_user(request)
    is_staff = policy.is_labeling_staff(user)
    teams = teams_visible_to(user) if is_staff else None
    checks = skill_checks_list(include_inactive=True) if is_staff else None
    form = ProjectForm(request.POST or None, project=project, teams=teams, checks=checks)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                project_services.project_update(
                    project=project, actor=user, **form.project_settings()
                )
                _access_set(project, form, user)
        except QuorumError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "The settings are saved.")
            return redirect(project_url(project.pk))
    return render(request, "labeling/project_form.html", {"form": form, "project": project})


@labeling_access
@require_POST
def project_status(request: HttpRequest, project_id: int) -> HttpResponse:
    """Activate, pause or archive a project."""
    project = project_for_request(request, project_id)
    form = ProjectStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose activate, pause or archive.")
        return redirect(project_url(project.pk))
    try:
        project = project_services.project_update(
            project=project, actor=request_user(request), status=form.cleaned_data["status"]
        )
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The project is now {project.get_status_display().lower()}.")
    return redirect(project_url(project.pk))


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
            return redirect(project_url(project.pk, "instructions"))
    return project_page(request, project, instructions_form=form)
