"""A person's standing in a project as the quality rules change it: gold rate, retraining, suspension.

quality decides; these services lock and write labeling's WorkerProjectState rows for it. Lock
order: the person's states by pk (the queue's per-person claim lock, see `worker_state_get_for_update`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from labeling.models import WorkerProjectState

# The fields of a person's state that others may set (the queue owns the counters).
STANDING_FIELDS = frozenset(
    {"gold_rate_override", "needs_retraining", "is_suspended", "suspended_until"}
)


def suspension_in_force(now: datetime) -> Q:
    """A state whose quality-rule suspension from the project holds at `now` (on WorkerProjectState)."""
    return Q(is_suspended=True) & (Q(suspended_until__isnull=True) | Q(suspended_until__gt=now))


def suspension_refusal(*, suspended_until: datetime | None) -> str:
    """Word `suspension_in_force` for a person it holds for (`suspended_until` of their state)."""
    until = f" until {suspended_until:%Y-%m-%d %H:%M} UTC" if suspended_until else ""
    return f"You are suspended from this project{until}; see your quality page to appeal."


RETRAINING_REFUSAL = (
    "This project asks you to retrain before you take more work; a manager will clear it."
)


def worker_states_lock(
    *, user_id: int, project_id: int | None, also: int | None = None
) -> list[WorkerProjectState]:
    """Lock the person's states in `project_id` (or in every project), creating the one named.

    `also` names a project whose state is created when `project_id` is None (the project of the
    event that led here), so a person with no state yet there still gets one.
    """
    wanted = project_id or also
    if wanted is not None:
        WorkerProjectState.objects.get_or_create(user_id=user_id, project_id=wanted)
    states = WorkerProjectState.objects.select_for_update().filter(user_id=user_id)
    if project_id is not None:
        states = states.filter(project_id=project_id)
    return list(states.order_by("pk"))


def worker_state_lock_existing(*, user_id: int, project_id: int) -> WorkerProjectState | None:
    """Lock the person's state in the project, or return None when they have none."""
    return (
        WorkerProjectState.objects.select_for_update()
        .filter(user_id=user_id, project_id=project_id)
        .first()
    )


def worker_state_standing_set(*, state_id: int, now: datetime, **changes: Any) -> None:
    """Write standing fields (`STANDING_FIELDS` only) of one locked state in one UPDATE."""
    unknown = set(changes) - STANDING_FIELDS
    if unknown:
        raise ValueError(f"Not a standing field: {', '.join(sorted(unknown))}")
    WorkerProjectState.objects.filter(pk=state_id).update(updated_at=now, **changes)


def worker_states_lock_in(*, user_id: int, project_ids: set[int]) -> None:
    """Lock the person's existing states in these projects, in pk order (creating none)."""
    if project_ids:
        list(
            WorkerProjectState.objects.select_for_update()
            .filter(user_id=user_id, project_id__in=project_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
