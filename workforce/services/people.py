"""Every write to annotator profiles and terms acceptance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_countries import countries

from accounts.models import Role, User
from accounts.services import role_grant
from core.audit import audit_record, snapshot
from core.errors import NotFound, ValidationFailed
from workforce.choices import is_language, is_time_zone
from workforce.models import (
    AnnotatorProfile,
    AnnotatorStatus,
    Skill,
    SkillLevel,
    TermsAcceptance,
    TermsVersion,
)
from workforce.selectors import terms_current
from workforce.services.onboarding import journey_refresh, journey_transition

_PROFILE_FIELDS = ["country", "time_zone", "languages"]


def _validated_profile(country: str, time_zone: str, languages: Sequence[str]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if country not in dict(countries):
        errors["country"] = [f'{country!r} is not a country code (ISO 3166, e.g. "KE").']
    if not is_time_zone(time_zone):
        errors["time_zone"] = [f'{time_zone!r} is not a time zone (e.g. "Africa/Nairobi").']
    if not languages:
        errors["languages"] = ["Choose at least one language you can label in."]
    else:
        unknown = [code for code in languages if not is_language(code)]
        if unknown:
            errors["languages"] = [f"Unknown language code(s): {', '.join(unknown)}."]
    if errors:
        first_field, first_messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first_field}: {first_messages[0]}", fields=errors)
    return {"country": country, "time_zone": time_zone, "languages": sorted(set(languages))}


@transaction.atomic
def terms_accept(
    *, user: User, terms_version: str, ip_address: str | None = None
) -> TermsAcceptance:
    """Record that `user` accepted the current terms; raise ValidationFailed if `terms_version` is not it."""
    current = terms_current()
    if current is None or current.version != terms_version:
        shown = current.version if current else "none published"
        raise ValidationFailed(
            f"The terms changed while you were reading them (current version: {shown}); please review them again.",
            fields={"accept_terms": ["The terms changed; review the current version."]},
        )
    acceptance, created = TermsAcceptance.objects.get_or_create(
        user=user, terms=current, defaults={"ip_address": ip_address}
    )
    if created:
        audit_record(
            actor=user,
            action="terms.accepted",
            target=user,
            after={"terms_version": current.version, "accepted_at": acceptance.accepted_at},
            ip_address=ip_address,
        )
        journey_refresh(user=user, actor=user)
    return acceptance


@transaction.atomic
def annotator_signup_complete(
    *,
    user: User,
    country: str,
    time_zone: str,
    languages: Sequence[str],
    terms_version: str,
    ip_address: str | None = None,
) -> AnnotatorProfile:
    """Store a new annotator's profile and terms acceptance, and give them the annotator role.

    Their journey then moves on by itself: profile complete, terms accepted (each audited).
    """
    data = _validated_profile(country, time_zone, languages)
    terms_accept(user=user, terms_version=terms_version, ip_address=ip_address)
    profile = AnnotatorProfile.objects.create(user=user, **data)
    audit_record(
        actor=user,
        action="profile.created",
        target=profile,
        after=snapshot(profile, _PROFILE_FIELDS),
    )
    role_grant(user=user, role=Role.ANNOTATOR, actor=None)
    return journey_refresh(user=user, actor=user) or profile


@transaction.atomic
def annotator_profile_update(
    *,
    profile: AnnotatorProfile,
    actor: User,
    country: str,
    time_zone: str,
    languages: Sequence[str],
) -> AnnotatorProfile:
    """Change a profile's country, time zone or languages."""
    data = _validated_profile(country, time_zone, languages)
    locked = AnnotatorProfile.objects.select_for_update().get(pk=profile.pk)
    before = snapshot(locked, _PROFILE_FIELDS)
    for field, value in data.items():
        setattr(locked, field, value)
    locked.save(update_fields=[*_PROFILE_FIELDS, "updated_at"])
    after = snapshot(locked, _PROFILE_FIELDS)
    if before != after:
        audit_record(
            actor=actor, action="profile.updated", target=locked, before=before, after=after
        )
    return journey_refresh(user=locked.user, actor=actor) or locked


@transaction.atomic
def terms_publish(*, version: str, title: str, body: str, actor: User | None) -> TermsVersion:
    """Publish a new terms version; annotators accept it from then on."""
    if TermsVersion.objects.filter(version=version).exists():
        raise ValidationFailed(
            f"Terms version {version} already exists.", fields={"version": ["Already exists."]}
        )
    terms = TermsVersion.objects.create(version=version, title=title, body=body)
    audit_record(
        actor=actor,
        action="terms.published",
        target=terms,
        after=snapshot(terms, ["version", "title"]),
    )
    return terms


@transaction.atomic
def annotator_status_set(
    *,
    profile: AnnotatorProfile,
    status: AnnotatorStatus | str,
    actor: User | None,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
) -> AnnotatorProfile:
    """Move an annotator to `status` (activate, suspend, reinstate, offboard...) as the journey's
    map allows; audited with the reason and the `evidence` numbers behind it.

    Raises ValidationFailed (field `status`) for a move the map does not allow.
    """
    return journey_transition(
        profile=profile, to=str(status), actor=actor, reason=reason, evidence=evidence
    )


@transaction.atomic
def annotator_trust_set(
    *, profile: AnnotatorProfile, is_trusted: bool, actor: User | None, reason: str = ""
) -> AnnotatorProfile:
    """Mark an annotator as trusted (reviewed and checked with gold less often), or not; audited."""
    locked = AnnotatorProfile.objects.select_for_update().get(pk=profile.pk)
    if locked.is_trusted == is_trusted:
        return locked
    locked.is_trusted = is_trusted
    locked.save(update_fields=["is_trusted", "updated_at"])
    audit_record(
        actor=actor,
        action="annotator.trust_changed",
        target=locked,
        before={"is_trusted": not is_trusted},
        after={"is_trusted": is_trusted, "reason": reason},
    )
    return locked


@transaction.atomic
def skill_create(*, slug: str, name: str, description: str = "", actor: User | None) -> Skill:
    """Create a skill; raise ValidationFailed if the slug is taken or malformed."""
    slug = slug.strip().lower()
    if not slug or not all(c.isalnum() or c in "-_" for c in slug):
        raise ValidationFailed(
            "A skill's slug uses letters, digits, - and _.",
            fields={"slug": ["Letters, digits, - and _ only."]},
        )
    if Skill.objects.filter(slug=slug).exists():
        message = f"The skill {slug!r} already exists."
        raise ValidationFailed(message, fields={"slug": [message]})
    skill = Skill.objects.create(slug=slug, name=name.strip() or slug, description=description)
    audit_record(
        actor=actor, action="skill.created", target=skill, after=snapshot(skill, ["slug", "name"])
    )
    return skill


@transaction.atomic
def skill_level_grant(*, user: User, skill: Skill, level: int, actor: User | None) -> SkillLevel:
    """Set `user`'s level in `skill` (1..10); repeating the same level changes nothing."""
    if not 1 <= level <= 10:
        raise ValidationFailed(
            "A skill level is from 1 to 10.", fields={"level": ["Must be from 1 to 10."]}
        )
    current = SkillLevel.objects.select_for_update().filter(user=user, skill=skill).first()
    if current is not None and current.level == level:
        return current
    before = {"skill": skill.slug, "level": current.level} if current else None
    if current is None:
        current = SkillLevel.objects.create(user=user, skill=skill, level=level, granted_by=actor)
    else:
        current.level = level
        current.granted_by = actor
        current.granted_at = timezone.now()
        current.save(update_fields=["level", "granted_by", "granted_at"])
    audit_record(
        actor=actor,
        action="skill.level_granted",
        target=user,
        before=before,
        after={"skill": skill.slug, "level": level},
    )
    journey_refresh(user=user, actor=actor)
    return current


@transaction.atomic
def skill_level_revoke(*, user: User, skill: Skill, actor: User | None) -> None:
    """Take the skill from `user`; raise NotFound if they do not have it."""
    current = SkillLevel.objects.select_for_update().filter(user=user, skill=skill).first()
    if current is None:
        raise NotFound(f"{user.email} has no level in {skill.name}.")
    before = {"skill": skill.slug, "level": current.level}
    current.delete()
    audit_record(actor=actor, action="skill.level_revoked", target=user, before=before, after=None)
