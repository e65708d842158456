"""Reads of the onboarding journey: a person's checklist and history, where applicants wait."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from workforce.models import AnnotatorProfile, AnnotatorStatus, JourneyEvent
from workforce.selectors.onboarding_steps import (
    journey_states,
    onboarding_steps,
    status_label,
)


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    label: str
    state: str  # done | current | next
    url: str = ""
    help_text: str = ""
    blocked_reason: str | None = None


@dataclass(frozen=True)
class Checklist:
    status: str
    status_label: str
    is_onboarding: bool
    items: list[ChecklistItem] = field(default_factory=list)

    @property
    def current(self) -> ChecklistItem | None:
        return next((item for item in self.items if item.state == "current"), None)


def _url(name: str) -> str:
    # Pages of other topics may not exist in every build (or test): no page, no button.
    if not name:
        return ""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def onboarding_checklist(*, user: Any, now: datetime | None = None) -> Checklist | None:
    """The person's onboarding steps: done, the current one (with its page and why it is
    blocked, if it is) and those still to come; None for someone with no annotator profile."""
    profile = AnnotatorProfile.objects.filter(user_id=user.pk).only("status").first()
    if profile is None:
        return None
    now = now or timezone.now()
    steps = onboarding_steps()
    names = [step.name for step in steps]
    status = profile.status
    if status == AnnotatorStatus.APPLICANT:
        completed = 0
    elif status in names:
        completed = names.index(status) + 1
    else:
        completed = len(steps)
    items: list[ChecklistItem] = []
    for index, step in enumerate(steps):
        if index < completed:
            items.append(ChecklistItem(step.name, step.label, "done"))
        elif index == completed:
            reason = step.blocked_reason(user, now) if step.blocked_reason else None
            items.append(
                ChecklistItem(
                    step.name,
                    step.label,
                    "current",
                    url=_url(step.url_name),
                    help_text=step.help_text,
                    blocked_reason=reason,
                )
            )
        else:
            items.append(ChecklistItem(step.name, step.label, "next", help_text=step.help_text))
    return Checklist(
        status=status,
        status_label=status_label(status),
        is_onboarding=status == AnnotatorStatus.APPLICANT
        or status in names
        or status == AnnotatorStatus.APPROVAL,
        items=items,
    )


def journey_events_of(*, user: Any) -> QuerySet[JourneyEvent]:
    """The person's journey history, newest first, with who moved them."""
    return JourneyEvent.objects.filter(user_id=user.pk).select_related("actor")


@dataclass(frozen=True)
class StepCount:
    status: str
    label: str
    count: int
    oldest_since: datetime | None
    oldest_user_id: int | None
    oldest_email: str | None


def onboarding_summary(*, users: QuerySet[Any]) -> list[StepCount]:
    """Per journey state up to approval: how many of `users` wait there, and who waits longest."""
    waiting = [
        s
        for s in journey_states()
        if s not in (AnnotatorStatus.PROBATION, AnnotatorStatus.ACTIVE, AnnotatorStatus.SUSPENDED)
        and s != AnnotatorStatus.OFFBOARDED
    ]
    profiles = AnnotatorProfile.objects.filter(user__in=users, status__in=waiting)
    counts = {
        row["status"]: row
        for row in profiles.values("status").annotate(n=Count("id"), since=Min("status_changed_at"))
    }
    # One small query per state with someone waiting: the states are few, the people many.
    oldest = {
        status: profiles.filter(status=status)
        .select_related("user")
        .order_by("status_changed_at", "id")
        .first()
        for status in counts
    }
    rows = []
    for status in waiting:
        row = counts.get(status)
        first = oldest.get(status)
        rows.append(
            StepCount(
                status=status,
                label=status_label(status),
                count=row["n"] if row else 0,
                oldest_since=row["since"] if row else None,
                oldest_user_id=first.user_id if first else None,
                oldest_email=first.user.email if first else None,
            )
        )
    return rows


def approval_queue(*, users: QuerySet[Any]) -> QuerySet[AnnotatorProfile]:
    """Profiles of `users` waiting for a manager's approval, longest waiting first."""
    return (
        AnnotatorProfile.objects.filter(user__in=users, status=AnnotatorStatus.APPROVAL)
        .select_related("user")
        .order_by("status_changed_at", "id")
    )
