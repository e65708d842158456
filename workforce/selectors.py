from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from workforce.models import (
    WORKING_STATUSES,
    AnnotatorProfile,
    AnnotatorStatus,
    Skill,
    SkillLevel,
    Standing,
    TermsAcceptance,
    TermsVersion,
)


def terms_current() -> TermsVersion | None:
    """Return the newest published terms version, or None before any is published."""
    from django.utils import timezone

    return (
        TermsVersion.objects.filter(published_at__lte=timezone.now())
        .order_by("-published_at", "-id")
        .first()
    )


def annotator_profile_get(*, user: Any) -> AnnotatorProfile | None:
    return AnnotatorProfile.objects.filter(user_id=user.pk).first()


def annotator_profiles_for(users: QuerySet[Any]) -> QuerySet[AnnotatorProfile]:
    """Profiles of the given (already scoped) users, with what the people list shows."""
    return (
        AnnotatorProfile.objects.filter(user__in=users)
        .select_related("user")
        .prefetch_related("user__role_grants")
        .order_by("user__email")
    )


def terms_acceptances_of(*, user: Any) -> QuerySet[TermsAcceptance]:
    return (
        TermsAcceptance.objects.filter(user_id=user.pk)
        .select_related("terms")
        .order_by("-accepted_at")
    )


def worker_eligibility(*, user: Any, skill_id: int | None, min_level: int) -> str | None:
    """Return why `user` may not take work needing `skill_id` at `min_level`, or None if they may."""
    status = (
        AnnotatorProfile.objects.filter(user_id=user.pk).values_list("status", flat=True).first()
    )
    if status is None:
        return "You have no annotator profile."
    if status not in WORKING_STATUSES:
        return f"Your account is {status}; only active annotators take work."
    if skill_id is None:
        return None
    level = (
        SkillLevel.objects.filter(user_id=user.pk, skill_id=skill_id)
        .values_list("level", flat=True)
        .first()
    )
    if level is None or level < min_level:
        return "You are not qualified for this project yet."
    return None


def skill_levels_of(*, user: Any) -> dict[int, int]:
    """Return {skill_id: level} for `user`."""
    return dict(SkillLevel.objects.filter(user_id=user.pk).values_list("skill_id", "level"))


def skill_levels_list(*, user: Any) -> QuerySet[SkillLevel]:
    """The person's skill levels with their skills, by skill name."""
    return (
        SkillLevel.objects.filter(user_id=user.pk).select_related("skill").order_by("skill__name")
    )


def skills_with_counts() -> QuerySet[Skill]:
    """Every skill with how many people hold it (`people`)."""
    return Skill.objects.annotate(people=Count("levels")).order_by("name")


def standing_of(*, user: Any) -> Standing:
    """Return how much `user`'s work is checked: probation, regular or trusted.

    People on probation (or with no annotator profile, e.g. staff doing a task) count as
    probation until a manager activates them; active people are regular until marked trusted.
    """
    row = (
        AnnotatorProfile.objects.filter(user_id=user.pk).values_list("status", "is_trusted").first()
    )
    return standing_from(*(row or (None, False)))


def standing_from(status: str | None, is_trusted: bool) -> Standing:
    if status == AnnotatorStatus.ACTIVE:
        return Standing.TRUSTED if is_trusted else Standing.REGULAR
    return Standing.PROBATION
