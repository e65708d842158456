"""Every write to teams, their members, managers and announcements (audited)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import user_roles
from core.audit import audit_record, snapshot
from core.errors import Conflict, NotFound, ValidationFailed
from workforce.models import (
    AnnotatorProfile,
    Team,
    TeamAnnouncement,
    TeamManager,
    TeamMembership,
    TeamRole,
)

NAME_MAX = 100
TITLE_MAX = 150
BODY_MAX = 5000


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


def _clean_name(name: str, *, team: Team | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise _fail("name", "A team needs a name.")
    if len(name) > NAME_MAX:
        raise _fail("name", f"At most {NAME_MAX} characters.")
    taken = Team.objects.filter(name__iexact=name)
    if team is not None:
        taken = taken.exclude(pk=team.pk)
    if taken.exists():
        raise _fail("name", f"There is already a team named {name!r}.")
    return name


@transaction.atomic
def team_create(*, name: str, description: str = "", actor: User | None) -> Team:
    """Create a team; raise ValidationFailed (field `name`) for an empty or taken name."""
    team = Team.objects.create(name=_clean_name(name), description=description.strip())
    audit_record(actor=actor, action="team.created", target=team, after=snapshot(team, ["name"]))
    return team


@transaction.atomic
def team_update(
    *, team: Team, name: str | None = None, description: str | None = None, actor: User | None
) -> Team:
    """Rename a team or change its description (audited)."""
    team = Team.objects.select_for_update().get(pk=team.pk)
    before = snapshot(team, ["name", "description"])
    if name is not None:
        team.name = _clean_name(name, team=team)
    if description is not None:
        team.description = description.strip()
    team.save(update_fields=["name", "description"])
    audit_record(
        actor=actor,
        action="team.updated",
        target=team,
        before=before,
        after=snapshot(team, ["name", "description"]),
    )
    return team


def _require_worker(user: User) -> None:
    if not AnnotatorProfile.objects.filter(user_id=user.pk).exists():
        raise _fail("user", f"{user.email} has no annotator profile; only annotators join teams.")


@transaction.atomic
def team_member_add(
    *, team: Team, user: User, role: str = TeamRole.MEMBER, actor: User | None
) -> TeamMembership:
    """Put `user` (an annotator) in `team`; raise Conflict if they are in another team already
    (move them instead: `team_member_move`)."""
    if role not in TeamRole.values:
        raise _fail("role", f"Use one of: {', '.join(TeamRole.values)}.")
    _require_worker(user)
    existing = TeamMembership.objects.select_for_update().filter(user_id=user.pk).first()
    if existing is not None:
        if existing.team_id == team.pk:
            return existing
        raise Conflict(
            f"{user.email} is in another team already; move them instead.",
            extra={"field": "user", "team": existing.team_id},
        )
    try:
        with transaction.atomic():
            membership = TeamMembership.objects.create(team=team, user=user, role=role)
    except IntegrityError as exc:  # a concurrent add of the same person won
        raise Conflict(f"{user.email} was just put in a team.", extra={"field": "user"}) from exc
    audit_record(
        actor=actor,
        action="team.member_added",
        target=team,
        after={"user": user.pk, "role": role},
    )
    return membership


@transaction.atomic
def team_member_remove(*, team: Team, user: User, actor: User | None) -> None:
    """Take `user` out of `team`; raise NotFound if they are not in it."""
    membership = (
        TeamMembership.objects.select_for_update().filter(team_id=team.pk, user_id=user.pk).first()
    )
    if membership is None:
        raise NotFound(f"{user.email} is not in {team.name}.")
    membership.delete()
    audit_record(
        actor=actor,
        action="team.member_removed",
        target=team,
        before={"user": user.pk, "role": membership.role},
    )


@transaction.atomic
def team_lead_set(*, team: Team, user: User, is_lead: bool, actor: User | None) -> TeamMembership:
    """Make a member of `team` one of its leads, or a plain member again (audited)."""
    membership = (
        TeamMembership.objects.select_for_update().filter(team_id=team.pk, user_id=user.pk).first()
    )
    if membership is None:
        raise _fail("user", f"{user.email} is not a member of {team.name}.")
    before = {"user": user.pk, "role": membership.role}
    membership.role = TeamRole.LEAD if is_lead else TeamRole.MEMBER
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="team.lead_set",
        target=team,
        before=before,
        after={"user": user.pk, "role": membership.role},
    )
    return membership


@transaction.atomic
def team_member_move(
    *, user: User, from_team: Team, to_team: Team, actor: User | None, reason: str
) -> TeamMembership:
    """Move `user` from `from_team` to `to_team` (as a plain member), recording who, when, the
    teams before and after, and why. Raise ValidationFailed (`reason`, `to_team`) or NotFound
    when they are not in `from_team`."""
    reason = reason.strip()
    if not reason:
        raise _fail("reason", "Say why the person moves.")
    if from_team.pk == to_team.pk:
        raise _fail("to_team", "Choose a different team.")
    membership = (
        TeamMembership.objects.select_for_update()
        .filter(team_id=from_team.pk, user_id=user.pk)
        .first()
    )
    if membership is None:
        raise NotFound(f"{user.email} is not in {from_team.name}.")
    before = {"team": from_team.pk, "team_name": from_team.name, "role": membership.role}
    membership.team = to_team
    membership.role = TeamRole.MEMBER
    membership.joined_at = timezone.now()
    membership.save(update_fields=["team", "role", "joined_at"])
    audit_record(
        actor=actor,
        action="team.member_moved",
        target=user,
        before=before,
        after={
            "team": to_team.pk,
            "team_name": to_team.name,
            "role": membership.role,
            "reason": reason,
        },
    )
    return membership


@transaction.atomic
def team_manager_assign(*, team: Team, user: User, actor: User | None) -> TeamManager:
    """Assign a manager (a user holding the manager role) to `team`; repeating is a no-op."""
    if Role.MANAGER not in user_roles(user):
        raise _fail("user", f"{user.email} does not hold the manager role.")
    assignment, created = TeamManager.objects.get_or_create(team=team, user=user)
    if created:
        audit_record(
            actor=actor, action="team.manager_assigned", target=team, after={"user": user.pk}
        )
    return assignment


@transaction.atomic
def team_manager_unassign(*, team: Team, user: User, actor: User | None) -> None:
    """Take a manager off `team`; raise NotFound if they do not manage it."""
    deleted, _ = TeamManager.objects.filter(team_id=team.pk, user_id=user.pk).delete()
    if not deleted:
        raise NotFound(f"{user.email} does not manage {team.name}.")
    audit_record(
        actor=actor, action="team.manager_unassigned", target=team, before={"user": user.pk}
    )


@transaction.atomic
def team_announcement_post(
    *,
    team: Team,
    title: str,
    body: str,
    expires_at: datetime | None = None,
    actor: User | None,
    now: datetime | None = None,
) -> TeamAnnouncement:
    """Post an announcement its members see on their home page (until `expires_at`)."""
    now = now or timezone.now()
    title, body = title.strip(), body.strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["An announcement needs a title."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"At most {TITLE_MAX} characters."]
    if not body:
        errors["body"] = ["Write what the team should know."]
    elif len(body) > BODY_MAX:
        errors["body"] = [f"At most {BODY_MAX} characters."]
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = ["Choose a time in the future, or none."]
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)
    announcement = TeamAnnouncement.objects.create(
        team=team, author=actor, title=title, body=body, expires_at=expires_at, created_at=now
    )
    audit_record(
        actor=actor,
        action="team.announcement_posted",
        target=team,
        after={"announcement": announcement.pk, "title": title},
    )
    return announcement
