"""A project's pace and ETA from the hourly rollups, and whether it will miss its deadline.

The rule (docs/dashboards.md says it to users):

- **Pace**: the tasks that became final in the project over the last 24 whole hours (the
  `ProjectHour` rows of [floor(now) - 24 h, floor(now))), per hour: finals / 24. Nights and
  pauses count, so a project worked 8 hours a day gets the pace of a whole day, not of a
  working hour. The current, unfinished hour is left out: the rollups may not hold it yet.
- **Remaining**: the project's tasks not final yet (`tasks_total - tasks_completed`).
- **ETA**: now + remaining / pace, rounded up to the second (integers only: remaining * 24 h /
  finals). No final task in the window: no pace, so no ETA ("no pace").
- **Late**: work remains and the deadline has passed, or the ETA is after the deadline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db.models import Sum

from core.errors import NotFound
from labeling.models import Project, projects_with_counts
from quality.performance.models import ProjectHour
from quality.performance.rollups import hour_floor
from quality.performance.selectors import projects_measured_for

PACE_WINDOW_HOURS = 24
PACE_WINDOW = timedelta(hours=PACE_WINDOW_HOURS)


class PaceStatus(StrEnum):
    DONE = "done"  # nothing remains
    NO_PACE = "no_pace"  # work remains, nothing became final in the window: no ETA
    LATE = "late"  # the deadline has passed with work left, or the ETA is after it
    ON_TIME = "on_time"  # the ETA is at or before the deadline
    NO_DEADLINE = "no_deadline"  # an ETA, and no deadline to hold it to


@dataclass(frozen=True)
class Pace:
    """A project's pace, remaining work, ETA and standing against its deadline at `now`."""

    project_id: int
    final_tasks_in_window: int
    window_hours: int
    remaining: int
    deadline: datetime | None
    eta: datetime | None
    status: PaceStatus

    @property
    def per_hour(self) -> float | None:
        """Final tasks per hour over the window (for display; the ETA is computed exactly)."""
        if not self.final_tasks_in_window:
            return None
        return self.final_tasks_in_window / self.window_hours

    @property
    def is_late(self) -> bool:
        return self.status == PaceStatus.LATE


def pace_of(
    *,
    project_id: int,
    final_tasks_in_window: int,
    remaining: int,
    deadline: datetime | None,
    now: datetime,
    window_hours: int = PACE_WINDOW_HOURS,
) -> Pace:
    """The pace, ETA and status of one project from its figures (plain data; see the module)."""
    remaining = max(remaining, 0)
    eta: datetime | None = None
    if remaining and final_tasks_in_window > 0:
        window_seconds = window_hours * 3600
        seconds = -(-remaining * window_seconds // final_tasks_in_window)  # rounded up
        eta = now + timedelta(seconds=seconds)
    if not remaining:
        status = PaceStatus.DONE
    elif deadline is not None and deadline <= now:
        status = PaceStatus.LATE
    elif eta is None:
        status = PaceStatus.NO_PACE
    elif deadline is None:
        status = PaceStatus.NO_DEADLINE
    else:
        status = PaceStatus.LATE if eta > deadline else PaceStatus.ON_TIME
    return Pace(
        project_id=project_id,
        final_tasks_in_window=final_tasks_in_window,
        window_hours=window_hours,
        remaining=remaining,
        deadline=deadline,
        eta=eta,
        status=status,
    )


def finals_in_window(project_ids: Iterable[int], *, now: datetime) -> dict[int, int]:
    """Final tasks per project over the pace window ending at the hour holding `now` (one query)."""
    end = hour_floor(now)
    rows = (
        ProjectHour.objects.filter(
            project_id__in=list(project_ids), hour__gte=end - PACE_WINDOW, hour__lt=end
        )
        .values("project_id")
        .annotate(total=Sum("final_tasks"))
        .values_list("project_id", "total")
    )
    return {project_id: int(total or 0) for project_id, total in rows}


def project_paces(projects: Iterable[Project], *, now: datetime) -> dict[int, Pace]:
    """The pace of each of `projects` (already scoped by the caller): one query for all."""
    projects = list(projects)
    finals = finals_in_window((p.pk for p in projects), now=now)
    return {
        p.pk: pace_of(
            project_id=p.pk,
            final_tasks_in_window=finals.get(p.pk, 0),
            remaining=p.tasks_total - p.tasks_completed,
            deadline=p.deadline,
            now=now,
        )
        for p in projects
    }


def project_pace_get(viewer: Any, *, project_id: int, now: datetime) -> Pace:
    """One project's pace; NotFound when `viewer` may not read its figures."""
    project = (
        projects_with_counts(projects_measured_for(viewer).filter(pk=project_id))
        .select_related(None)
        .only("pk", "tasks_total", "tasks_completed_folded", "annotations_folded", "deadline")
        .first()
    )
    if project is None:
        raise NotFound("No such project.", extra={"project": project_id})
    return project_paces([project], now=now)[project.pk]
