"""workforce's section of a person's data: profile, skills and terms acceptances."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from accounts.models import User
from accounts.personal_data import (
    AuditSubject,
    Erasure,
    PersonalDataSection,
    personal_data_section_register,
)
from workforce.models import (
    AnnotatorProfile,
    AnnotatorStatus,
    JourneyEvent,
    Notification,
    SkillLevel,
    TermsAcceptance,
)

# Keys of profile snapshots in the audit trail that describe the person (a status change's
# reason is a manager's free text about them).
_PROFILE_PERSONAL_KEYS = frozenset({"country", "time_zone", "languages", "reason"})


def _export(user: User) -> Mapping[str, Any]:
    profile = AnnotatorProfile.objects.filter(user=user).first()
    return {
        "profile": None
        if profile is None
        else {
            "country": str(profile.country or ""),
            "time_zone": profile.time_zone,
            "languages": profile.languages,
            "status": profile.status,
            "status_changed_at": profile.status_changed_at,
            "is_trusted": profile.is_trusted,
            "created_at": profile.created_at,
        },
        "skills": [
            {
                "skill": level.skill.slug,
                "name": level.skill.name,
                "level": level.level,
                "granted_at": level.granted_at,
            }
            for level in SkillLevel.objects.filter(user=user)
            .select_related("skill")
            .order_by("skill__name")
        ],
        "terms_acceptances": [
            {
                "version": acceptance.terms.version,
                "title": acceptance.terms.title,
                "accepted_at": acceptance.accepted_at,
                "ip_address": acceptance.ip_address,
            }
            for acceptance in TermsAcceptance.objects.filter(user=user)
            .select_related("terms")
            .order_by("accepted_at", "pk")
        ],
        "journey": [
            {
                "from": event.from_status,
                "to": event.to_status,
                "reason": event.reason,
                "evidence": event.evidence,
                "at": event.created_at,
            }
            for event in JourneyEvent.objects.filter(user=user).order_by("created_at", "pk")
        ],
        "notifications": [
            {"kind": n.kind, "title": n.title, "body": n.body, "at": n.created_at}
            for n in Notification.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }


def _subjects(user: User) -> Iterable[AuditSubject]:
    yield AuditSubject(
        AnnotatorProfile,
        tuple(AnnotatorProfile.objects.filter(user=user).values_list("pk", flat=True)),
        _PROFILE_PERSONAL_KEYS,
    )


def _erase(erasure: Erasure) -> None:
    """Blank the profile's personal fields and offboard; keep skills and acceptances (no IP)."""
    user = erasure.user
    blanked = (
        AnnotatorProfile.objects.filter(user=user)
        .exclude(country="", time_zone="", languages=[], status=AnnotatorStatus.OFFBOARDED)
        .update(
            country="",
            time_zone="",
            languages=[],
            status=AnnotatorStatus.OFFBOARDED,
            status_changed_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )
    erasure.count("profile", "profiles_blanked", blanked)
    # The acceptance itself stays as the record of which terms the work was done under.
    cleared = TermsAcceptance.objects.filter(user=user, ip_address__isnull=False).update(
        ip_address=None
    )
    erasure.count("profile", "terms_ip_addresses_cleared", cleared)
    # Reasons are free text about the person; the moves themselves stay as the record.
    reasons = JourneyEvent.objects.filter(user=user).exclude(reason="").update(reason="")
    erasure.count("profile", "journey_reasons_cleared", reasons)
    deleted, _ = Notification.objects.filter(user=user).delete()
    erasure.count("profile", "notifications_deleted", deleted)


def register() -> None:
    """Register workforce's section (called from `WorkforceConfig.ready`)."""
    personal_data_section_register(
        PersonalDataSection(
            name="profile",
            title="Your profile: country, time zone, languages, status, skills, terms accepted",
            export=_export,
            erase=_erase,
            subjects=_subjects,
            erase_order=200,
        )
    )
