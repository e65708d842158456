"""Record who changed what, when, and the state before and after."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.functions import Cast

from core.models import AuditEvent

JsonValue = Any


def _jsonable(value: Any) -> JsonValue:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # e.g. a Country, a UUID: their text form is what a reader needs


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, JsonValue]:
    """Return the named fields of `instance` as JSON-ready data (foreign keys as their ids)."""
    data: dict[str, JsonValue] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        data[name] = _jsonable(getattr(instance, attname))
    return data


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model,
    before: dict[str, JsonValue] | None = None,
    after: dict[str, JsonValue] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction that makes the change."""
    actor_obj = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor_obj,
        action=action,
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        ip_address=ip_address,
    )


def audit_record_many(
    *,
    actor: Any | None,
    action: str,
    changes: Sequence[tuple[models.Model, dict[str, JsonValue]]],
) -> list[AuditEvent]:
    """Append one audit event per (target, after) of `changes`, all of one action, in one insert
    (a batch of a bulk operation); call it inside the transaction that makes the changes."""
    actor_obj = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    types: dict[type[models.Model], ContentType] = {}
    events = []
    for target, after in changes:
        kind = type(target)
        if kind not in types:
            types[kind] = ContentType.objects.get_for_model(target, for_concrete_model=False)
        events.append(
            AuditEvent(
                actor=actor_obj,
                action=action,
                target_type=types[kind],
                target_id=str(target.pk),
                target_repr=str(target)[:200],
                after=_jsonable(after),
            )
        )
    return AuditEvent.objects.bulk_create(events)


def audit_events_about(events: QuerySet[AuditEvent], target: models.Model) -> QuerySet[AuditEvent]:
    """Narrow `events` (already scoped to the viewer) to those about `target`."""
    return events.filter(
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=str(target.pk),
    )


REDACTED = "[erased]"


@dataclass(frozen=True)
class AuditSubject:
    """Objects that are a person's own (their user, profile, tokens...) and, in audit snapshots of
    those objects, the keys whose values are that person's personal data."""

    model: type[models.Model]
    ids: tuple[Any, ...]
    personal_keys: frozenset[str] = frozenset()


def audit_about_subjects(subjects: Iterable[AuditSubject]) -> Q:
    """The condition for events about any of the subjects' objects."""
    condition = Q(pk__in=[])
    for subject in subjects:
        if subject.ids:
            condition |= Q(
                target_type=ContentType.objects.get_for_model(
                    subject.model, for_concrete_model=False
                ),
                target_id__in=[str(pk) for pk in subject.ids],
            )
    return condition


def audit_events_of_person(*, user_id: int, subjects: Iterable[AuditSubject]) -> Q:
    """The condition for events a person made (as actor) or that are about their own objects."""
    return Q(actor_id=user_id) | audit_about_subjects(subjects)


def _scrub(value: JsonValue, patterns: list[tuple[re.Pattern[str], str]]) -> JsonValue:
    if isinstance(value, str):
        for pattern, replacement in patterns:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, list):
        return [_scrub(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, patterns) for k, v in value.items()}
    return value


def _redact_keys(snapshot_data: JsonValue, keys: frozenset[str]) -> JsonValue:
    if not isinstance(snapshot_data, dict):
        return snapshot_data
    return {
        k: REDACTED if k in keys and v not in (None, "") else v for k, v in snapshot_data.items()
    }


@dataclass(frozen=True)
class PersonalValue:
    """A text that identifies a person (an e-mail address, a name) and what replaces it."""

    text: str
    replacement: str = REDACTED


def audit_redact_person(
    *, user_id: int, subjects: Iterable[AuditSubject], values: Iterable[PersonalValue]
) -> int:
    """Redact one person's personal data in the audit trail, in place; return the events changed.

    The audit trail is append-only except for this: when a person's data is erased, the values
    that identify them are replaced, and nothing else changes (ids, actions, actors, targets and
    times stay, so who did what remains provable through the pseudonymous user id). In events
    about the person's own objects the `personal_keys` of each subject become "[erased]"; the
    IP address of events the person made is cleared; anywhere in the trail, each personal value
    is replaced in target texts and snapshots. Call it inside the erasure's transaction; it
    locks the events it changes.
    """
    subjects = list(subjects)
    values = [v for v in values if v.text.strip()]
    patterns = [
        (
            re.compile(r"(?<!\w)" + re.escape(v.text.strip()) + r"(?!\w)", re.IGNORECASE),
            v.replacement,
        )
        for v in values
    ]
    keys_by_target: dict[tuple[int, str], frozenset[str]] = {}
    for subject in subjects:
        type_id = ContentType.objects.get_for_model(subject.model, for_concrete_model=False).pk
        for pk in subject.ids:
            keys_by_target[(type_id, str(pk))] = subject.personal_keys
    mentions = Q(pk__in=[])
    for value in values:
        # Snapshots are searched as text; an e-mail address is plain ASCII in JSON on every database.
        mentions |= (
            Q(target_repr__icontains=value.text.strip())
            | Q(before_text__icontains=value.text.strip())
            | Q(after_text__icontains=value.text.strip())
        )
    candidates = (
        AuditEvent.objects.annotate(
            before_text=Cast("before", models.TextField()),
            after_text=Cast("after", models.TextField()),
        )
        .filter(audit_events_of_person(user_id=user_id, subjects=subjects) | mentions)
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    changed: list[AuditEvent] = []
    for event in candidates.iterator(chunk_size=500):
        keys = keys_by_target.get((event.target_type_id, event.target_id), frozenset())
        before = _scrub(_redact_keys(event.before, keys), patterns)
        after = _scrub(_redact_keys(event.after, keys), patterns)
        target_repr = _scrub(event.target_repr, patterns)
        ip_address = None if event.actor_id == user_id else event.ip_address
        if (before, after, target_repr, ip_address) != (
            event.before,
            event.after,
            event.target_repr,
            event.ip_address,
        ):
            event.before, event.after = before, after
            event.target_repr, event.ip_address = target_repr, ip_address
            changed.append(event)
    AuditEvent.objects.bulk_update(
        changed, ["before", "after", "target_repr", "ip_address"], batch_size=500
    )
    return len(changed)
