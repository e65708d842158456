from __future__ import annotations

from typing import Any

from django.db.models import Case, Count, Exists, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from accounts.models import User
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


# --- The rules of who takes work, as conditions any query can carry ---------------------------
# The claim (labeling) puts these in its one statement; the functions below word their outcome.


def working_profile(user_id: Any) -> Exists:
    """The person has an annotator profile in a working status (they take work)."""
    return Exists(AnnotatorProfile.objects.filter(user_id=user_id, status__in=WORKING_STATUSES))


def skill_held(user_id: Any, *, skill_id: Any, min_level: Any) -> Exists:
    """The person holds `skill_id` at `min_level` or above (values or outer references)."""
    return Exists(
        SkillLevel.objects.filter(user_id=user_id, skill_id=skill_id, level__gte=min_level)
    )


def _standing_case() -> Case:
    """A profile's standing from its status and trust (the rule; see `standing_of`)."""
    return Case(
        When(Q(status=AnnotatorStatus.ACTIVE, is_trusted=True), then=Value(Standing.TRUSTED.value)),
        When(status=AnnotatorStatus.ACTIVE, then=Value(Standing.REGULAR.value)),
        default=Value(Standing.PROBATION.value),
    )


def standing_expression(user_id: Any) -> Coalesce:
    """The person's standing (see `standing_of`) as an expression: probation without a profile."""
    profile = AnnotatorProfile.objects.filter(user_id=user_id).annotate(standing=_standing_case())
    return Coalesce(Subquery(profile.values("standing")[:1]), Value(Standing.PROBATION.value))


def eligibility_refusal(*, user_id: int, working: bool, qualified: bool) -> str | None:
    """Word the outcome of `working_profile` and `skill_held` for the person; None when both hold."""
    if not working:
        profile = AnnotatorProfile.objects.filter(user_id=user_id).only("status").first()
        if profile is None:
            return "You have no annotator profile."
        label = profile.get_status_display().lower()
        return f"Your account is {label}; only active annotators take work."
    if not qualified:
        return "You are not qualified for this project yet."
    return None


def worker_eligibility(*, user: Any, skill_id: int | None, min_level: int) -> str | None:
    """Return why `user` may not take work needing `skill_id` at `min_level`, or None if they may."""
    flags = (
        User.objects.filter(pk=user.pk)
        .annotate(
            working=working_profile(user.pk),
            qualified=(
                Value(True)
                if skill_id is None
                else skill_held(user.pk, skill_id=skill_id, min_level=min_level)
            ),
        )
        .values("working", "qualified")
        .first()
    ) or {"working": False, "qualified": False}
    return eligibility_refusal(
        user_id=user.pk, working=flags["working"], qualified=flags["qualified"]
    )


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
    The rule is `standing_expression`; `standing_from` applies it to values already loaded.
    """
    value = (
        AnnotatorProfile.objects.filter(user_id=user.pk)
        .annotate(standing=_standing_case())
        .values_list("standing", flat=True)
        .first()
    )
    return Standing(value or Standing.PROBATION)


def standing_from(status: str | None, is_trusted: bool) -> Standing:
    """`standing_expression` for a profile's status and trust already at hand (equal by test)."""
    if status == AnnotatorStatus.ACTIVE:
        return Standing.TRUSTED if is_trusted else Standing.REGULAR
    return Standing.PROBATION
