"""Every write to notifications: telling a person something, their reading it, their e-mail choices."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import NotFound, ValidationFailed
from workforce.models import Notification, NotificationKind, NotificationPreference
from workforce.selectors.notifications import email_wanted, notification_preferences_of


def _send_email(*, to: str, title: str, body: str, url: str) -> None:
    link = f"\n\n{settings.SITE_URL.rstrip('/')}{url}" if url.startswith("/") else ""
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{title}",
        message=f"{body}{link}\n",
        from_email=None,
        recipient_list=[to],
    )


@transaction.atomic
def notify(
    *, user: User, kind: NotificationKind | str, title: str, body: str = "", url: str = ""
) -> Notification:
    """Tell `user` something in the portal and, if they chose e-mail for `kind`, by e-mail too.

    The e-mail leaves after the transaction commits, so a rolled-back change tells nobody.
    Raises ValidationFailed for an unknown kind.
    """
    if kind not in NotificationKind.values:
        raise ValidationFailed(
            f"Unknown notification kind {kind!r}.", fields={"kind": ["Unknown kind."]}
        )
    notification = Notification.objects.create(
        user=user, kind=kind, title=title[:200], body=body, url=url[:500]
    )
    if user.email and email_wanted(user=user, kind=kind):
        email, subject, text, link = user.email, notification.title, body, url
        transaction.on_commit(lambda: _send_email(to=email, title=subject, body=text, url=link))
    return notification


@transaction.atomic
def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the person's notifications read; NotFound if it is not theirs."""
    notification = (
        Notification.objects.select_for_update().filter(pk=notification_id, user_id=user.pk).first()
    )
    if notification is None:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of the person read; return how many."""
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )


@transaction.atomic
def notification_preferences_set(*, user: User, by_email: Mapping[str, bool]) -> dict[str, bool]:
    """Choose, per kind, whether it also goes by e-mail; kinds left out keep their choice. Audited."""
    unknown = sorted(set(by_email) - set(NotificationKind.values))
    if unknown:
        raise ValidationFailed(
            f"Unknown notification kind(s): {', '.join(unknown)}.",
            fields={"by_email": [f"Unknown kind(s): {', '.join(unknown)}."]},
        )
    before = notification_preferences_of(user=user)
    for kind, wanted in by_email.items():
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, defaults={"by_email": bool(wanted)}
        )
    after = notification_preferences_of(user=user)
    if before != after:
        audit_record(
            actor=user,
            action="notifications.preferences_changed",
            target=user,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return after
