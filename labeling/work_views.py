"""Annotator portal pages: the work home, the labeling page and the person's own history.

The labeling page is a shell: its script talks to the work-queue API (claim, heartbeat, submit,
skip, release) with the session cookie. The one write here is `lease_release_beacon`, which takes
the CSRF token from the form body, because `navigator.sendBeacon` cannot set headers.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError
from labeling import policy
from labeling.selectors import submissions_of, work_overview
from labeling.services.queue import lease_release

HISTORY_PAGE_SIZE = 25


def _require_worker(request: HttpRequest) -> None:
    if not can(request.user, Action.WORK_LABEL):
        raise PermissionDenied


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """List the projects this person may work on now, those they could unlock, and their counts."""
    _require_worker(request)
    overview = work_overview(user=request_user(request))
    return render(
        request,
        "labeling/work/home.html",
        {
            "may_work": overview.may_work,
            "profile": overview.profile,
            "workable": overview.workable,
            "empty": overview.empty,
            "locked": overview.locked,
            "today_count": overview.today_count,
            "week_count": overview.week_count,
        },
    )


@login_required
@require_GET
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    """The labeling page of one project: a shell whose script claims and submits through the API."""
    _require_worker(request)
    project = get_object_or_404(policy.projects_workable_by(request.user), pk=project_id)
    config = {
        "project": {
            "id": project.pk,
            "name": project.name,
            "task_type": project.task_type,
            "labels": project.labels,
            "max_labels": project.max_labels,
            "allow_overlapping_spans": project.allow_overlapping_spans,
            "lease_seconds": project.lease_seconds,
        },
        "urls": {
            "claim": f"/api/v1/projects/{project.pk}/claim/",
            "lease": "/api/v1/leases/",
            "release_beacon": reverse("work:lease_release", kwargs={"lease_id": 0}),
            "home": reverse("work:home"),
        },
    }
    return render(
        request,
        "labeling/work/label.html",
        {"project": project, "config": config},
    )


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """The person's own submissions, newest first, and the work sent back to them for rework."""
    _require_worker(request)
    submissions = submissions_of(user=request_user(request))
    page = Paginator(submissions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "labeling/work/history.html",
        {"page": page, "rework": []},
    )


@login_required
@require_POST
def lease_release_beacon(request: HttpRequest, lease_id: int) -> HttpResponse:
    """Give back a lease held in reserve when the person leaves the page (sent by sendBeacon)."""
    _require_worker(request)
    try:
        lease_release(lease_id=lease_id, user=request_user(request))
    except QuorumError as exc:
        return HttpResponse(exc.message, status=exc.http_status, content_type="text/plain")
    return HttpResponse(status=204)
