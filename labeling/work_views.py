"""Annotator portal pages: the work home, the labeling and review pages and the person's history.

The labeling and review pages are shells: their scripts talk to the work-queue and review APIs
(claim, heartbeat, submit or verdict, skip, release) with the session cookie. The one write here is
`lease_release_beacon`, which takes the CSRF token from the form body, because
`navigator.sendBeacon` cannot set headers.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError
from labeling import policy
from labeling.models import Project, Task
from labeling.selectors import (
    review_projects_for,
    rework_of,
    submissions_of,
    work_overview,
)
from labeling.services.leases import lease_release
from labeling.services.review import reviewer_level_of
from workforce.selectors.onboarding import onboarding_checklist
from workforce.selectors.teams import announcements_for_member

HISTORY_PAGE_SIZE = 25


def _require_worker(request: HttpRequest) -> None:
    if not can(request.user, Action.WORK_LABEL):
        raise PermissionDenied


def _project_config(project: Project) -> dict[str, Any]:
    return {
        "id": project.pk,
        "name": project.name,
        "task_type": project.task_type,
        "labels": project.labels,
        "max_labels": project.max_labels,
        "allow_overlapping_spans": project.allow_overlapping_spans,
        "lease_seconds": project.lease_seconds,
    }


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """List the projects this person may work on now, those they could unlock, and their counts;
    for reviewers, the projects with review work at their levels; and the rework waiting."""
    _require_worker(request)
    user = request_user(request)
    overview = work_overview(user=user)
    level = reviewer_level_of(user)
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
            "reviewer_level": level,
            "review_projects": review_projects_for(user=user, level=level),
            "rework_count": len(rework_of(user=user)),
            "checklist": onboarding_checklist(user=user),
            "team_announcements": announcements_for_member(user=user, now=timezone.now()),
        },
    )


@login_required
@require_GET
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    """The labeling page of one project: a shell whose script claims and submits through the API."""
    _require_worker(request)
    project = get_object_or_404(policy.projects_workable_by(request.user), pk=project_id)
    config: dict[str, Any] = {
        "project": _project_config(project),
        "urls": {
            "claim": f"/api/v1/projects/{project.pk}/claim/",
            "lease": "/api/v1/leases/",
            "release_beacon": reverse("work:lease_release", kwargs={"lease_id": 0}),
            "home": reverse("work:home"),
        },
    }
    item = None
    slot_id = request.GET.get("rework")
    if slot_id is not None:
        # Rework mode: claim this rework slot and start from the rejected answer.
        if not slot_id.isdigit():
            raise Http404("No such rework.")
        item = next(
            (
                i
                for i in rework_of(user=request_user(request))
                if i["slot_id"] == int(slot_id) and i["project_id"] == project.pk
            ),
            None,
        )
        config["rework"] = {"slot_id": int(slot_id), "item": item}
        config["urls"]["rework_claim"] = f"/api/v1/rework/{int(slot_id)}/claim/"
        config["urls"]["after_rework"] = reverse("work:history")
    return render(
        request,
        "labeling/work/label.html",
        {"project": project, "config": config, "rework": item},
    )


@login_required
@require_GET
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    """The review page of one project: a shell whose script claims reviews and sends verdicts."""
    _require_worker(request)
    if reviewer_level_of(request_user(request)) < 1:
        raise PermissionDenied
    project = get_object_or_404(policy.projects_reviewable_by(request.user), pk=project_id)
    config = {
        "mode": "review",
        "project": _project_config(project),
        "urls": {
            "claim": f"/api/v1/projects/{project.pk}/review/claim/",
            "lease": "/api/v1/leases/",
            "release_beacon": reverse("work:lease_release", kwargs={"lease_id": 0}),
            "home": reverse("work:home"),
        },
    }
    return render(
        request,
        "labeling/work/review.html",
        {"project": project, "config": config},
    )


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """The person's own submissions, newest first, and the work sent back to them for rework."""
    _require_worker(request)
    user = request_user(request)
    submissions = submissions_of(user=user)
    page = Paginator(submissions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    rework = rework_of(user=user)
    texts = _task_texts([item["task_id"] for item in rework])
    for item in rework:
        item["your_answer"] = readable_result(item["your_result"], texts.get(item["task_id"], ""))
    return render(
        request,
        "labeling/work/history.html",
        {"page": page, "rework": rework},
    )


def _task_texts(task_ids: list[int]) -> dict[int, str]:
    # Entities read as their words: one query for the texts of all the listed tasks.
    if not task_ids:
        return {}
    rows = Task.objects.filter(pk__in=task_ids).values_list("pk", "data")
    return {pk: str((data or {}).get("text") or "") for pk, data in rows}


def readable_result(result: Any, text: str = "") -> list[str]:
    """Describe a result in words, one line per part: labels, entities with their words, boxes."""
    if not isinstance(result, dict):
        return ["No answer."]
    if "label" in result:
        return [str(result["label"])]
    if "labels" in result:
        return [", ".join(map(str, result["labels"])) or "No label."]
    if "spans" in result:
        # Offsets count code points, as Python's str does.
        return [
            f"“{text[s['start'] : s['end']]}” {s['label']}"
            if text
            else f"{s['label']} (characters {s['start']} to {s['end']})"
            for s in result["spans"]
        ] or ["No entities."]
    if "boxes" in result:
        return [
            f"{b['label']} at ({b['x']}, {b['y']}), {b['w']} by {b['h']} px"
            for b in result["boxes"]
        ] or ["No boxes."]
    return [str(result)]


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
