"""Annotator portal pages: the work home, the labeling page and the person's own history.

The labeling page is a shell: its script talks to the work-queue API (claim, heartbeat, submit,
skip, release) with the session cookie. The one write here is `lease_release_beacon`, which takes
the CSRF token from the form body, because `navigator.sendBeacon` cannot set headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError
from labeling import policy
from labeling.models import Annotation, Project, SlotKind, SlotState, WorkSlot
from labeling.models.work import TaskParticipation
from labeling.services.queue import lease_release
from workforce.models import WORKING_STATUSES, AnnotatorProfile
from workforce.selectors import skill_levels_of

HISTORY_PAGE_SIZE = 25


@dataclass(frozen=True)
class WorkableProject:
    project: Project
    available: int
    instructions_version: int | None


@dataclass(frozen=True)
class LockedProject:
    project: Project
    needed: str


def _require_worker(request: HttpRequest) -> None:
    if not can(request.user, Action.WORK_LABEL):
        raise PermissionDenied


def _local_zone(profile: AnnotatorProfile | None) -> Any:
    if profile is not None and profile.time_zone:
        try:
            return ZoneInfo(str(profile.time_zone))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.get_current_timezone()


def _period_starts(now: datetime, zone: Any) -> tuple[datetime, datetime]:
    """Return the start of today and of this week (Monday) in the person's time zone."""
    local = now.astimezone(zone)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return today, today - timedelta(days=today.weekday())


def _available_counts(project_ids: list[int], user_id: int, now: datetime) -> dict[int, int]:
    """Count, per project, the annotation slots this person could claim now (one query)."""
    if not project_ids:
        return {}
    touched = TaskParticipation.objects.filter(user_id=user_id).values("task_id")
    rows = (
        WorkSlot.objects.filter(project_id__in=project_ids, kind=SlotKind.ANNOTATE, level=0)
        .filter(
            Q(state=SlotState.OPEN) | Q(state=SlotState.LEASED, lease_expires_at__lt=now),
        )
        .exclude(task_id__in=touched)
        .values("project_id")
        .annotate(n=Count("id"))
    )
    return {row["project_id"]: row["n"] for row in rows}


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """List the projects this person may work on now, those they could unlock, and their counts."""
    _require_worker(request)
    user = request_user(request)
    now = timezone.now()
    profile = AnnotatorProfile.objects.filter(user_id=user.pk).first()
    may_work = profile is not None and profile.status in WORKING_STATUSES
    levels = skill_levels_of(user=user)
    projects = list(
        policy.projects_workable_by(user)
        .annotate(latest_instructions_version=Max("instruction_versions__version"))
        .order_by("-priority", "name", "pk")
    )
    workable: list[Project] = []
    locked: list[LockedProject] = []
    for project in projects:
        if project.required_skill_id is None:
            workable.append(project)
            continue
        have = levels.get(project.required_skill_id)
        if have is not None and have >= project.required_level:
            workable.append(project)
            continue
        skill = project.required_skill
        assert skill is not None  # noqa: S101  (required_skill_id is set)
        needed = f"{skill.name} at level {project.required_level}" + (
            f" (you have level {have})" if have is not None else " (you do not have this skill yet)"
        )
        locked.append(LockedProject(project=project, needed=needed))
    counts = _available_counts([p.pk for p in workable], user.pk, now) if may_work else {}
    rows = [
        WorkableProject(
            project=p,
            available=counts.get(p.pk, 0),
            instructions_version=getattr(p, "latest_instructions_version", None),
        )
        for p in workable
    ]
    today, week = _period_starts(now, _local_zone(profile))
    totals = Annotation.objects.filter(author_id=user.pk, submitted_at__gte=week).aggregate(
        week=Count("id"), today=Count("id", filter=Q(submitted_at__gte=today))
    )
    return render(
        request,
        "labeling/work/home.html",
        {
            "may_work": may_work,
            "profile": profile,
            "workable": [r for r in rows if r.available > 0],
            "empty": [r for r in rows if r.available == 0],
            "locked": locked,
            "today_count": totals["today"],
            "week_count": totals["week"],
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
    submissions = (
        Annotation.objects.filter(author_id=request.user.pk)
        .select_related("project")
        .only(
            "id",
            "task_id",
            "status",
            "active_seconds",
            "submitted_at",
            "project__id",
            "project__name",
        )
        .order_by("-submitted_at", "-pk")
    )
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
