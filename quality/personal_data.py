"""quality's section of a person's data: what quality rules did to them, and their appeals.

Free text the person wrote (appeal reasons) and notes others wrote about them (decisions, lift
notes) are erased; the actions stay, as the record of what happened to the person's standing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from accounts.models import User
from accounts.personal_data import (
    REDACTED,
    AuditSubject,
    Erasure,
    PersonalDataSection,
    personal_data_section_register,
)
from quality.models import Appeal, RuleAction
from quality.selectors import evidence_visible_to

_CHUNK = 1000
_NOTE_KEYS = frozenset({"reason", "note", "end_note"})


def _quality_actions(user: User) -> Iterator[Mapping[str, Any]]:
    actions = (
        RuleAction.objects.filter(user_id=user.pk).select_related("rule").order_by("taken_at", "pk")
    )
    for action in actions.iterator(chunk_size=_CHUNK):
        yield {
            "id": action.pk,
            "rule": action.rule.name,
            "kind": action.kind,
            "state": action.state,
            "project_id": action.project_id,
            "taken_at": action.taken_at,
            "expires_at": action.expires_at,
            "ended_at": action.ended_at,
            "ended_by_id": action.ended_by_id,
            "end_note": action.end_note,
            # The same view of the evidence the person has on their quality page (no gold items).
            "evidence": evidence_visible_to(user, action),
        }


def _export(user: User) -> Mapping[str, Any]:
    return {
        "quality_actions": _quality_actions(user),
        "appeals": list(
            Appeal.objects.filter(author_id=user.pk)
            .order_by("created_at", "pk")
            .values(
                "id",
                "action_id",
                "reason",
                "status",
                "created_at",
                "decided_by_id",
                "decided_at",
                "decision_note",
            )
        ),
    }


def _subjects(user: User) -> Iterable[AuditSubject]:
    yield AuditSubject(
        Appeal,
        tuple(Appeal.objects.filter(author_id=user.pk).values_list("pk", flat=True)),
        _NOTE_KEYS,
    )
    yield AuditSubject(
        RuleAction,
        tuple(RuleAction.objects.filter(user_id=user.pk).values_list("pk", flat=True)),
        _NOTE_KEYS,
    )


def _erase(erasure: Erasure) -> None:
    """Erase appeal reasons, decisions and notes on the person's actions; keep the actions."""
    user_id = erasure.user.pk
    appeals = Appeal.objects.filter(author_id=user_id)
    erasure.count(
        "quality", "appeal_reasons_erased", appeals.exclude(reason=REDACTED).update(reason=REDACTED)
    )
    erasure.count(
        "quality",
        "appeal_notes_erased",
        appeals.exclude(decision_note__in=["", REDACTED]).update(decision_note=REDACTED),
    )
    erasure.count(
        "quality",
        "quality_action_notes_erased",
        RuleAction.objects.filter(user_id=user_id)
        .exclude(end_note__in=["", REDACTED])
        .update(end_note=REDACTED),
    )


def register() -> None:
    """Register quality's section (called from `QualityConfig.ready`)."""
    personal_data_section_register(
        PersonalDataSection(
            name="quality",
            title="Quality: actions quality rules took on your work, and your appeals",
            export=_export,
            erase=_erase,
            subjects=_subjects,
            erase_order=400,
        )
    )
