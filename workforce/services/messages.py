"""A manager writes to a person of their teams: a notification of kind "message from your
manager", in the person's Notifications page, e-mailed after commit when they want that kind by
e-mail (on by default), audited.

Only managers and administrators write (`Action.PEOPLE_MANAGE`); a manager reaches the people of
their teams (`people_managed_by`), anyone else is "not found". A manager sends at most
`QUORUM_MANAGER_MESSAGES_PER_MINUTE` messages a minute (counted in the shared cache, so every web
process and the API count together).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from accounts.models import User
from accounts.policy import Action, can
from core.audit import audit_record
from core.cache import counter_add
from core.errors import NotFound, PermissionDenied, ValidationFailed
from workforce.errors import TooManyMessages
from workforce.models import Notification, NotificationKind
from workforce.selectors.teams import people_managed_by
from workforce.services.notifications import notify

MESSAGE_SUBJECT_MAX = 200  # the notification's title
MESSAGE_BODY_MAX = 5000
WINDOW_SECONDS = 60


def _clean(value: str, field: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"{field}: Required.", fields={field: ["Required."]})
    if len(text) > limit:
        message = f"At most {limit} characters (this has {len(text)})."
        raise ValidationFailed(f"{field}: {message}", fields={field: [message]})
    return text


def messages_per_minute() -> int:
    return int(settings.QUORUM_MANAGER_MESSAGES_PER_MINUTE)


def _now() -> float:
    return time.time()


def _count_against_limit(actor: User) -> None:
    """Count one message of `actor` in the current minute (a fixed window, as the API's work
    throttle counts); refuse past the limit."""
    limit = messages_per_minute()
    window = int(_now() // WINDOW_SECONDS)
    sent = counter_add(f"workforce:messages:{actor.pk}:{window}", WINDOW_SECONDS + 1)
    if sent > limit:
        raise TooManyMessages(
            f"You can send at most {limit} messages a minute; wait a moment and send it again.",
            extra={"limit_per_minute": limit},
        )


@transaction.atomic
def person_message_send(*, actor: User, person: User, subject: str, body: str) -> Notification:
    """Send `person` a message from `actor` (their manager, or an administrator).

    Raises PermissionDenied (not a manager), NotFound (not one of `actor`'s people; nobody
    messages themself this way), ValidationFailed naming `subject` or `body` (empty, too long),
    TooManyMessages (`rate_limited`, past the limit per minute). Nothing is kept on an error.
    """
    if not can(actor, Action.PEOPLE_MANAGE):
        raise PermissionDenied("Only managers and administrators message people.")
    if person.pk == actor.pk or not people_managed_by(actor).filter(pk=person.pk).exists():
        raise NotFound("There is no such person in your teams.")
    subject = _clean(subject, "subject", MESSAGE_SUBJECT_MAX)
    body = _clean(body, "body", MESSAGE_BODY_MAX)
    _count_against_limit(actor)
    sender = actor.get_full_name()
    notification = notify(
        user=person,
        kind=NotificationKind.MESSAGE,
        title=subject,
        body=f"{body}\n\n— {sender}",
        url=reverse("workforce:notifications"),
    )
    audit_record(
        actor=actor,
        action="person.messaged",
        target=notification,
        after={"to": person.pk, "subject": subject, "body": body},
    )
    return notification
