"""Reads of notifications: a person's own list, their unread count and their e-mail choices."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from workforce.models import (
    EMAIL_BY_DEFAULT,
    Notification,
    NotificationKind,
    NotificationPreference,
)


def notifications_of(*, user: Any) -> QuerySet[Notification]:
    """The person's own notifications, newest first (nobody sees anyone else's)."""
    return Notification.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def notifications_unread_count(*, user: Any) -> int:
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()


def notification_preferences_of(*, user: Any) -> dict[str, bool]:
    """{kind: by e-mail} for every kind: the person's choice, or the kind's default."""
    chosen = dict(
        NotificationPreference.objects.filter(user_id=user.pk).values_list("kind", "by_email")
    )
    return {kind: chosen.get(kind, kind in EMAIL_BY_DEFAULT) for kind in NotificationKind.values}


def email_wanted(*, user: Any, kind: str) -> bool:
    """Whether a notification of `kind` also goes to the person by e-mail."""
    chosen = (
        NotificationPreference.objects.filter(user_id=user.pk, kind=kind)
        .values_list("by_email", flat=True)
        .first()
    )
    return kind in EMAIL_BY_DEFAULT if chosen is None else bool(chosen)
