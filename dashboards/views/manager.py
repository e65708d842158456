"""The manager dashboards (wired into dashboards/urls.py): the overview of a manager's projects
and people, and a project's page (which a customer's users see too, for their own projects),
each with its numbers as CSV. Figures come from `dashboards.selectors`; nothing here computes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboards import selectors
from labeling import policy
from labeling.portal import labeling_access
from quality.performance.pace import Pace

# Measures of a project's days, in the CSV and the chart, as the definitions name them.
DAY_MEASURES = (
    "submissions",
    "final_tasks",
    "active_hours",
    "final_tasks_per_active_hour",
    "time_per_task_median",
    "gold_accuracy",
    "gold_accuracy_low",
    "gold_accuracy_high",
    "review_pass_rate",
    "correction_rate",
    "rework_rate",
    "agreement",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def person_url(user_id: int) -> str:
    """The page of a person's evidence: the dashboards' person page once it exists, else the
    people page of workforce."""
    try:
        return reverse("dashboards:person", args=[user_id])
    except NoReverseMatch:
        return reverse("workforce:person", args=[user_id])


def csv_cell(value: Any) -> str:
    """A value as a CSV cell that a spreadsheet will not run: text starting like a formula gets
    a leading apostrophe; None is empty."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _staff_only(request: HttpRequest) -> None:
    if not policy.is_labeling_staff(request.user):
        raise PermissionDenied


@labeling_access
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """The manager overview: throughput, each project's queue and ETA, who works now, alerts.
    A customer's user is sent to their own view."""
    if not policy.is_labeling_staff(request.user):
        return redirect("dashboards:customer")
    figures = selectors.manager_overview(request.user, now=timezone.now())
    chart = {
        "labels": ["Submissions", "Final tasks"],
        "last_hour": [figures.throughput.submissions, figures.throughput.final_tasks],
        "usual": [figures.throughput.usual_submissions, figures.throughput.usual_final_tasks],
    }
    return render(
        request,
        "dashboards/overview.html",
        {
            "figures": figures,
            "chart": chart,
            "people_working": [(pk, name, person_url(pk)) for pk, name in figures.people_working],
            "people_below": [(alert, person_url(alert.user_id)) for alert in figures.people_below],
        },
    )


def _pace_cells(pace: Pace) -> list[Any]:
    return [
        pace.remaining,
        pace.final_tasks_in_window,
        pace.eta,
        pace.status.value,
    ]


@labeling_access
@require_GET
def overview_csv(request: HttpRequest) -> HttpResponse:
    """The overview's projects as CSV: progress, pace, ETA, deadline and whether late."""
    _staff_only(request)
    figures = selectors.manager_overview(request.user, now=timezone.now())
    header = [
        "project_id",
        "project",
        "customer",
        "tasks_total",
        "tasks_final",
        "remaining",
        "final_tasks_last_24h",
        "eta",
        "status",
        "deadline",
        "final_tasks_last_hour",
        "people_working_now",
    ]
    rows = [
        [
            line.project.pk,
            line.project.name,
            line.project.customer.name,
            line.project.tasks_total,
            line.project.tasks_completed,
            *_pace_cells(line.pace),
            line.project.deadline,
            line.final_tasks_last_hour,
            line.working_now,
        ]
        for line in figures.projects
    ]
    return csv_response("overview.csv", header, rows)


def _project_or_404(request: HttpRequest, project_id: int) -> Any:
    project = selectors.project_get(request.user, project_id=project_id)
    if project is None:
        raise Http404("No such project.")
    return project


@labeling_access
@require_GET
def project_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """A project's progress, pace and ETA, daily throughput and quality, and cost; for labeling
    staff who manage it and the customer's users who own it (nobody else: 404)."""
    project = _project_or_404(request, project_id)
    figures = selectors.project_figures(request.user, project, now=timezone.now())
    chart = {
        "labels": [point.day.date().isoformat() for point in figures.days],
        "final_tasks": [point.measure("final_tasks") or 0 for point in figures.days],
        "submissions": [point.measure("submissions") or 0 for point in figures.days],
        "gold_accuracy": [point.measure("gold_accuracy") for point in figures.days],
        "gold_low": [point.measure("gold_accuracy_low") for point in figures.days],
        "gold_high": [point.measure("gold_accuracy_high") for point in figures.days],
    }
    return render(
        request,
        "dashboards/project.html",
        {
            "project": project,
            "figures": figures,
            "chart": chart,
            "is_staff": policy.is_labeling_staff(request.user),
        },
    )


@labeling_access
@require_GET
def project_csv(request: HttpRequest, project_id: int) -> HttpResponse:
    """A project's days (the last 30, UTC) as CSV, every figure the page's chart and quality use."""
    project = _project_or_404(request, project_id)
    figures = selectors.project_figures(request.user, project, now=timezone.now())
    rows = [
        [point.day.date(), *(point.measure(name) for name in DAY_MEASURES)]
        for point in figures.days
    ]
    return csv_response(f"project-{project.pk}-days.csv", ["day", *DAY_MEASURES], rows)


urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboards/", overview, name="overview"),
    path("dashboards/overview.csv", overview_csv, name="overview_csv"),
    path("dashboards/projects/<id:project_id>/", project_page, name="project"),
    path("dashboards/projects/<id:project_id>/days.csv", project_csv, name="project_csv"),
]
