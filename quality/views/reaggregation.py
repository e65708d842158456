"""The Quality page's "Re-aggregate every final task" button: queues a re-aggregation of the
project under its current estimates (see labeling/services/reaggregation.py); and the progress
of the latest run, which the page polls while it is queued or running."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import request_user
from labeling.portal import labeling_access, project_for_request
from labeling.services.reaggregation import (
    project_reaggregate_queue,
    reaggregation_applies,
    reaggregation_progress,
)


@labeling_access
@require_POST
def reaggregate_request(request: HttpRequest, project_id: int) -> HttpResponse:
    """Queue a re-aggregation of every final task of the project (and those in review)."""
    project = project_for_request(request, project_id)
    if not reaggregation_applies(project):
        messages.error(
            request,
            "Re-aggregation applies to single-label consensus projects that use the estimates.",
        )
    else:
        project_reaggregate_queue(project=project, include_final=True, actor=request_user(request))
        messages.success(request, "The tasks are being re-aggregated under the current estimates.")
    return redirect(
        reverse("quality:project_quality", kwargs={"project_id": project.pk}) + "#confusions"
    )


@labeling_access
@require_GET
def reaggregate_progress(request: HttpRequest, project_id: int) -> HttpResponse:
    """The latest re-aggregation's progress (the Quality page polls it while it runs)."""
    project = project_for_request(request, project_id)
    return render(
        request,
        "quality/_reaggregation_progress.html",
        {"project": project, "reaggregation": reaggregation_progress(project)},
    )


urlpatterns = [
    path(
        "projects/<id:project_id>/quality/reaggregate/",
        reaggregate_request,
        name="reaggregate",
    ),
    path(
        "projects/<id:project_id>/quality/reaggregate/progress/",
        reaggregate_progress,
        name="reaggregate_progress",
    ),
]
