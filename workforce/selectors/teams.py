"""Reads of teams, and the team-scoped querysets a manager sees people through.

Also the two rules of who may take a project's work that belong to people (the claim composes
them, see `labeling.services.claim_conditions`): a project limited to teams admits only their
members (`team_admits`), and a project's skill requirements (`skill_requirement_met`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.models import Role, User
from accounts.policy import Action, can, users_visible_to
from accounts.selectors import user_roles
from workforce.models import (
    AnnotatorProfile,
    SkillComparator,
    SkillLevel,
    Team,
    TeamAnnouncement,
    TeamManager,
    TeamMembership,
)
from workforce.selectors.people import annotator_profiles_for, skill_held

# --- Scope: which teams, people and (by team) projects a person manages ------------------------


def sees_every_team(user: Any) -> bool:
    """Administrators see and manage every team and person; managers only their teams'."""
    return bool(getattr(user, "is_authenticated", False)) and Role.ADMIN in user_roles(user)


def teams_visible_to(user: Any) -> QuerySet[Team]:
    """Every team for administrators; the teams a manager manages; none for anyone else."""
    teams = Team.objects.order_by("name", "pk")
    if sees_every_team(user):
        return teams
    if not can(user, Action.PEOPLE_VIEW):
        return teams.none()
    return teams.filter(manager_assignments__user_id=user.pk)


def team_ids_managed_by(user: Any) -> QuerySet[TeamManager, Any]:
    """The ids of the teams `user` is assigned to manage (a subquery)."""
    return TeamManager.objects.filter(user_id=user.pk).values("team_id")


def people_managed_by(user: Any) -> QuerySet[User]:
    """The people a manager sees and manages: the members of their teams (administrators: all
    that `accounts.policy.users_visible_to` gives them). A manager with no team sees nobody."""
    if sees_every_team(user):
        return users_visible_to(user)
    if not can(user, Action.PEOPLE_VIEW):
        return User.objects.none()
    return User.objects.filter(team_membership__team_id__in=team_ids_managed_by(user)).order_by(
        "email"
    )


def profiles_managed_by(user: Any) -> QuerySet[AnnotatorProfile]:
    """The annotator profiles of `people_managed_by(user)`, as the people pages list them."""
    return annotator_profiles_for(people_managed_by(user))


def people_placeable_by(user: Any) -> QuerySet[User]:
    """People `user` may put in, take out of or move between teams, and see while onboarding:
    the workforce with an annotator profile (`users_visible_to`) for administrators; for a
    manager, those in no team yet or in one of theirs."""
    people = users_visible_to(user).filter(annotator_profile__isnull=False)
    if sees_every_team(user):
        return people
    return people.filter(
        Q(team_membership__isnull=True) | Q(team_membership__team_id__in=team_ids_managed_by(user))
    )


def team_limit_visible_to_manager(user: Any, *, limits: QuerySet[Any]) -> Q:
    """A project a manager sees by its team limit (`limits`: the project's team-limit rows, with a
    `team_id`): open to every team, or limited to at least one of theirs."""
    return Q(~Exists(limits)) | Q(Exists(limits.filter(team_id__in=team_ids_managed_by(user))))


# --- The claim's rules ---------------------------------------------------------------------------


def team_member(user_id: Any, *, team_id: Any) -> Exists:
    """The person is a member of `team_id` (a value or an outer reference)."""
    return Exists(TeamMembership.objects.filter(user_id=user_id, team_id=team_id))


def team_admits(user_id: Any, *, limits: QuerySet[Any]) -> Q:
    """A project's team limit admits the person: `limits` (its limit rows, each with a `team_id`)
    is empty (open to every team) or names the person's team. Two EXISTS on small indexed
    tables; a project with no limit costs one index probe."""
    return Q(~Exists(limits)) | Q(
        Exists(limits.filter(team_member(user_id, team_id=OuterRef("team_id"))))
    )


TEAM_REFUSAL = "This project is limited to other teams."


def skill_requirement_met(user_id: Any) -> Q:
    """On a row of requirements (fields `comparator`, `skill_id`, `level`): the person holds the
    skill at `level` or above ("at least"), or does not hold it at all ("lacks")."""
    at_level = skill_held(user_id, skill_id=OuterRef("skill_id"), min_level=OuterRef("level"))
    held = Exists(SkillLevel.objects.filter(user_id=user_id, skill_id=OuterRef("skill_id")))
    return Q(Q(comparator=SkillComparator.AT_LEAST) & Q(at_level)) | Q(
        Q(comparator=SkillComparator.LACKS) & ~Q(held)
    )


def requirement_wording(*, skill_name: str, comparator: str, level: int | None) -> str:
    """A requirement as the person reads it, e.g. "English NER at level 2 or above"."""
    if comparator == SkillComparator.LACKS:
        return f"not holding {skill_name}"
    return f"{skill_name} at level {level} or above"


def requirements_refusal(unmet: list[str]) -> str:
    """The refusal of a claim whose person does not meet the requirements worded in `unmet`."""
    return f"You do not meet this project's requirements: {'; '.join(unmet)}."


# --- Teams, members and announcements ----------------------------------------------------------


def team_list_for(user: Any) -> QuerySet[Team]:
    """The teams `user` sees, with member counts (`members`), for the lists."""
    return teams_visible_to(user).annotate(members=Count("memberships", distinct=True))


def team_get_for(user: Any, *, team_id: int) -> Team | None:
    """One team `user` sees, with its managers; None outside their scope (a 404)."""
    return (
        teams_visible_to(user)
        .prefetch_related(
            Prefetch(
                "manager_assignments",
                queryset=TeamManager.objects.select_related("user").order_by("user__email"),
            )
        )
        .filter(pk=team_id)
        .first()
    )


def team_members(*, team: Team) -> QuerySet[TeamMembership]:
    """The members of `team`, leads first, then by e-mail."""
    return (
        TeamMembership.objects.filter(team_id=team.pk)
        .select_related("user")
        .order_by("-role", "user__email")
    )


def team_of(*, user: Any) -> TeamMembership | None:
    """The person's membership (their one team), or None."""
    return TeamMembership.objects.filter(user_id=user.pk).select_related("team").first()


def team_announcements(*, team: Team) -> QuerySet[TeamAnnouncement]:
    """Every announcement of `team`, newest first."""
    return TeamAnnouncement.objects.filter(team_id=team.pk).select_related("author")


def announcements_for_member(*, user: Any, now: datetime) -> list[TeamAnnouncement]:
    """What the person's team tells them now: unexpired, newest first, at most
    `QUORUM_TEAM_ANNOUNCEMENTS_SHOWN`."""
    return list(
        TeamAnnouncement.objects.filter(
            team__memberships__user_id=user.pk,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("team")
        .order_by("-created_at", "-pk")[: settings.QUORUM_TEAM_ANNOUNCEMENTS_SHOWN]
    )
