from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from workforce.selectors.notifications import notifications_unread_count


def notifications(request: HttpRequest) -> dict[str, Any]:
    """Give the base layout the signed-in person's unread notification count (one COUNT query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notifications_unread": notifications_unread_count(user=user)}
