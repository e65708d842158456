from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from workforce.models import AnnotatorProfile, TermsAcceptance, TermsVersion


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
