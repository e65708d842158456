"""Teams: who works together, who leads them, who manages them, and what they are told.

One team per annotator: a membership row is unique per person, so moving someone between teams
is one audited change and "the people of a manager's teams" has one answer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Team(models.Model):
    """A group of annotators and reviewers with one or more leads and managers."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamRole(models.TextChoices):
    MEMBER = "member", "Member"
    LEAD = "lead", "Lead"


class TeamMembership(models.Model):
    """A person's place in their (one) team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_membership"
    )
    role = models.CharField(max_length=10, choices=TeamRole.choices, default=TeamRole.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The claim asks "is this person in one of these teams" by (user, team).
            models.Index(fields=["user", "team"], name="workforce_member_user_team"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class TeamManager(models.Model):
    """A manager (a user holding the manager role) assigned to a team; a team may have several."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="manager_assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="managed_teams"
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="workforce_team_manager_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} manages {self.team}"


class TeamAnnouncement(models.Model):
    """A message to a team's members, shown on their work home page until it expires."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="announcements")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=150)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="workforce_announce_team_new"),
        ]

    def __str__(self) -> str:
        return self.title


class SkillComparator(models.TextChoices):
    """How a project's requirement compares a person's level in a skill (MTurk-like)."""

    AT_LEAST = "at_least", "At least level"
    LACKS = "lacks", "Has not got the skill"
