"""A manager moves a person of their teams to another tier by hand: grants or revokes lead (the
top tier, never computed), or sets a reviewer level, with a reason the person is told.

The move goes through `tier_set` (the reviewer role via accounts' role service, lead as a
`LeadGrant`; audited there with the reason); a pending tier candidate of the person is superseded
(its evidence was about the tier they had), and the person is notified (promoted or demoted).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.policy import Action, can
from core.errors import NotFound, PermissionDenied, ValidationFailed
from workforce.models import NotificationKind
from workforce.selectors.teams import people_managed_by
from workforce.selectors.tiers import tier_is_valid, tier_label, tier_of, tier_rank
from workforce.services.notifications import notify
from workforce.services.tiers import tier_candidates_supersede, tier_set

TIER_REASON_MAX = 300


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


@transaction.atomic
def tier_move(
    *, user: User, tier: str, actor: User, reason: str, now: datetime | None = None
) -> str:
    """Move `user` to `tier` ("annotator", "reviewer-<level>" or "lead") for `reason`; return
    the tier they were in.

    Raises PermissionDenied (`actor` does not manage people), NotFound (`user` is not in one of
    `actor`'s teams; administrators reach everyone), ValidationFailed naming `tier` (unknown, or
    the tier they are already in) or `reason` (missing or longer than 300 characters).
    """
    if not can(actor, Action.PEOPLE_MANAGE):
        raise PermissionDenied("Only managers and administrators change a person's tier.")
    if not people_managed_by(actor).filter(pk=user.pk).exists():
        raise NotFound("There is no such person in your teams.")
    if not tier_is_valid(tier or ""):
        raise _invalid("tier", f"Unknown tier {tier!r}.")
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", "Say why: the person is told.")
    if len(reason) > TIER_REASON_MAX:
        raise _invalid("reason", f"At most {TIER_REASON_MAX} characters.")
    before = tier_of(user=user)
    if before == tier:
        raise _invalid("tier", f"{user.email} is already {tier_label(tier)}.")
    tier_set(user=user, tier=tier, actor=actor, reason=reason)
    tier_candidates_supersede(user=user, now=now or timezone.now())
    promoted = tier_rank(tier) > tier_rank(before)
    notify(
        user=user,
        kind=NotificationKind.PROMOTED if promoted else NotificationKind.DEMOTED,
        title=f"{'Promoted' if promoted else 'Moved'} to {tier_label(tier)}",
        body=reason,
        url=reverse("home"),
    )
    return before
