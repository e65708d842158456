"""Record who changed what, when, and the state before and after."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

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


def audit_events_about(events: QuerySet[AuditEvent], target: models.Model) -> QuerySet[AuditEvent]:
    """Narrow `events` (already scoped to the viewer) to those about `target`."""
    return events.filter(
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=str(target.pk),
    )
