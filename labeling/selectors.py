"""Reads of the labeling engine that pages reuse: what an annotator can work on, and their history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.cache import cache
from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from labeling import policy
from labeling.models import (
    Annotation,
    AnnotationStatus,
    GoldScore,
    InstructionVersion,
    Lease,
    LeaseState,
    Pipeline,
    Project,
    RejectReason,
    Review,
    SlotKind,
    SlotState,
    Task,
    TaskParticipation,
    Verdict,
    WorkSlot,
)
from workforce.models import WORKING_STATUSES, AnnotatorProfile
from workforce.selectors import skill_levels_of


@dataclass(frozen=True)
class WorkableProject:
    project: Project
    available: int
    instructions_version: int | None


@dataclass(frozen=True)
class LockedProject:
    project: Project
    needed: str


@dataclass
class WorkOverview:
    """What an annotator's work home shows."""

    profile: AnnotatorProfile | None
    may_work: bool
    workable: list[WorkableProject] = field(default_factory=list)
    empty: list[WorkableProject] = field(default_factory=list)
    locked: list[LockedProject] = field(default_factory=list)
    today_count: int = 0
    week_count: int = 0


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


def work_available_counts(project_ids: list[int], user_id: int, now: datetime) -> dict[int, int]:
    """Count, per project, the tasks this person could claim now (one query).

    Tasks, not slots: a consensus task has several open slots, but a person labels it once.
    """
    if not project_ids:
        return {}
    touched = TaskParticipation.objects.filter(user_id=user_id).values("task_id")
    rows = (
        WorkSlot.objects.filter(project_id__in=project_ids, kind=SlotKind.ANNOTATE, level=0)
        .filter(Q(state=SlotState.OPEN) | Q(state=SlotState.LEASED, lease_expires_at__lt=now))
        .exclude(task_id__in=touched)
        .values("project_id")
        .annotate(n=Count("task_id", distinct=True))
    )
    return {row["project_id"]: row["n"] for row in rows}


def work_overview(*, user: Any, now: datetime | None = None) -> WorkOverview:
    """Split the active projects into those the person may work on now and those they could unlock."""
    now = now or timezone.now()
    profile = AnnotatorProfile.objects.filter(user_id=user.pk).first()
    overview = WorkOverview(
        profile=profile, may_work=profile is not None and profile.status in WORKING_STATUSES
    )
    levels = skill_levels_of(user=user)
    workable: list[Project] = []
    for project in policy.projects_workable_by(user).order_by("-priority", "name", "pk"):
        have = levels.get(project.required_skill_id) if project.required_skill_id else None
        if project.required_skill is None or (have is not None and have >= project.required_level):
            workable.append(project)
            continue
        needed = f"{project.required_skill.name} at level {project.required_level}" + (
            f" (you have level {have})" if have is not None else " (you do not have this skill yet)"
        )
        overview.locked.append(LockedProject(project=project, needed=needed))
    counts = (
        work_available_counts([p.pk for p in workable], user.pk, now) if overview.may_work else {}
    )
    for project in workable:
        row = WorkableProject(
            project=project,
            available=counts.get(project.pk, 0),
            instructions_version=project.instructions_version or None,
        )
        (overview.workable if row.available > 0 else overview.empty).append(row)
    today, week = _period_starts(now, _local_zone(profile))
    totals = Annotation.objects.filter(author_id=user.pk, submitted_at__gte=week).aggregate(
        week=Count("id"), today=Count("id", filter=Q(submitted_at__gte=today))
    )
    overview.today_count, overview.week_count = totals["today"], totals["week"]
    return overview


def submissions_of(*, user: Any) -> QuerySet[Annotation]:
    """The person's own submissions, newest first, with what the history page shows."""
    return (
        Annotation.objects.filter(author_id=user.pk)
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


def instructions_current(project: Project) -> dict[str, Any] | None:
    """The project's current instructions as {"version", "html"}, cached (a version never changes)."""
    return instructions_of(project.pk, project.instructions_version)


def instructions_of(project_id: int, version: int) -> dict[str, Any] | None:
    """Version `version` of a project's instructions as {"version", "html"} (cached), or None."""
    if not version:
        return None
    key = f"labeling:instructions:{project_id}:{version}"
    cached: dict[str, Any] | None = cache.get(key)
    if cached is None:
        html = (
            InstructionVersion.objects.filter(project_id=project_id, version=version)
            .values_list("body_html", flat=True)
            .first()
        )
        if html is None:
            return None
        cached = {"version": version, "html": html}
        cache.set(key, cached, timeout=24 * 3600)
    return cached


def review_context(*, task_id: int, project: Project, level: int) -> dict[str, Any]:
    """What a reviewer sees besides the task: the work under review, the other annotations and
    the aggregate (consensus), and the verdicts of the levels below. Never a gold answer, and
    never who did the work (reviews judge the work, not the person). Earlier verdicts at this
    level (a rejection before a rework) are included."""
    task = Task.objects.only("id", "result", "agreement", "confidence", "is_tie").get(pk=task_id)
    live = Annotation.objects.filter(
        task_id=task_id, status__in=[AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED]
    ).order_by("pk")
    reviews = list(
        Review.objects.filter(task_id=task_id, level__lte=level)
        .select_related("correction")
        .order_by("pk")
    )
    context: dict[str, Any] = {
        "level": level,
        "work": None,
        "annotations": [],
        "aggregate": None,
        "previous_reviews": [
            {
                "level": r.level,
                "verdict": r.verdict,
                "reason": r.reason,
                "comment": r.comment,
                "correction": r.correction.result if r.correction else None,
            }
            for r in reviews
        ],
        "reasons": [{"code": c, "label": str(label)} for c, label in RejectReason.choices],
        "can_reject": project.pipeline != Pipeline.CONSENSUS,
    }
    if project.pipeline == Pipeline.CONSENSUS:
        context["annotations"] = [
            {"result": a.result, "submitted_at": a.submitted_at}
            for a in live.filter(corrects__isnull=True)
        ]
        context["aggregate"] = {
            "result": task.result,
            "agreement": task.agreement,
            "confidence": task.confidence,
            "is_tie": task.is_tie,
        }
        correction = next((r.correction for r in reversed(reviews) if r.correction), None)
        if correction is not None:
            context["work"] = _work_body(correction)
        return context
    work = live.order_by("-pk").first()
    context["work"] = _work_body(work) if work else None
    return context


def _work_body(annotation: Annotation) -> dict[str, Any]:
    return {
        "annotation_id": annotation.pk,
        "result": annotation.result,
        "revision": annotation.revision,
        "is_correction": annotation.corrects_id is not None,
        "submitted_at": annotation.submitted_at,
        "active_seconds": annotation.active_seconds,
    }


def rework_of(*, user: Any) -> list[dict[str, Any]]:
    """The person's rejected work waiting for them, with the reviewer's reason and comment."""
    slots = list(
        WorkSlot.objects.filter(
            kind=SlotKind.REWORK,
            assignee_id=user.pk,
            state__in=[SlotState.OPEN, SlotState.LEASED],
        )
        .select_related("project")
        .order_by("pk")
    )
    rejections = {
        r.task_id: r
        for r in Review.objects.filter(
            task_id__in=[s.task_id for s in slots], author_id=user.pk, verdict=Verdict.REJECT
        )
        .select_related("annotation")
        .order_by("pk")
    }
    items = []
    for slot in slots:
        review = rejections.get(slot.task_id)
        items.append(
            {
                "slot_id": slot.pk,
                "task_id": slot.task_id,
                "project_id": slot.project_id,
                "project_name": slot.project.name,
                "reason": review.reason if review else "",
                "reason_label": review.get_reason_display() if review else "",
                "comment": review.comment if review else "",
                "rejected_at": review.created_at if review else None,
                "your_result": review.annotation.result if review and review.annotation else None,
            }
        )
    return items


def review_projects_for(*, user: Any, level: int) -> list[dict[str, Any]]:
    """Active projects with review work open at the levels this reviewer holds, with counts."""
    if level < 1:
        return []
    rows = (
        WorkSlot.objects.filter(
            kind=SlotKind.REVIEW,
            state=SlotState.OPEN,
            level__lte=level,
            project__in=Project.objects.filter(policy.project_takes_work()),
        )
        .values("project_id", "project__name", "level")
        .annotate(open=Count("id"))
        .order_by("project__name", "level")
    )
    projects: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = projects.setdefault(
            row["project_id"],
            {"id": row["project_id"], "name": row["project__name"], "open": 0, "levels": {}},
        )
        entry["open"] += row["open"]
        entry["levels"][row["level"]] = row["open"]
    return list(projects.values())


def person_names(*, user_ids: Iterable[int], with_contact: bool) -> dict[int, str]:
    """Names (or e-mail addresses) of people by id, one query; empty without `with_contact`.

    Only labeling staff see who the workers are; customers see them by number.
    """
    ids = set(user_ids)
    if not with_contact or not ids:
        return {}
    return {
        pk: full_name or email
        for pk, full_name, email in User.objects.filter(pk__in=ids).values_list(
            "pk", "full_name", "email"
        )
    }


def gold_task_scores(*, task_id: int) -> tuple[int, float | None]:
    """How many gold scores a task has and their mean (one query)."""
    found = GoldScore.objects.filter(task_id=task_id).aggregate(n=Count("id"), mean=Avg("value"))
    return int(found["n"]), found["mean"]


def people_working_now(*, project_ids: Iterable[int], now: datetime) -> dict[int, set[int]]:
    """Who holds a live lease (active and not expired) in each project, by project: one query
    over the active leases' index."""
    working: dict[int, set[int]] = {}
    for project_id, user_id in (
        Lease.objects.filter(
            project_id__in=list(project_ids), state=LeaseState.ACTIVE, expires_at__gt=now
        )
        .values_list("project_id", "user_id")
        .distinct()
    ):
        working.setdefault(project_id, set()).add(user_id)
    return working
