"""Every write to annotator profiles and terms acceptance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django_countries import countries

from accounts.models import Role, User
from accounts.services import role_grant
from core.audit import audit_record, snapshot
from core.errors import ValidationFailed
from workforce.choices import is_language, is_time_zone
from workforce.models import AnnotatorProfile, TermsAcceptance, TermsVersion
from workforce.selectors import terms_current

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
    """Store a new annotator's profile and terms acceptance, and give them the annotator role."""
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
    return profile


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
    return locked


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
