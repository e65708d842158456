"""A person's personal data, gathered from every app: the download and the erasure.

Each app that keeps data about people registers one *section* in its `AppConfig.ready()`:
an exporter (the person -> JSON-ready data about them, lists may be lazy iterables so large
histories stream), an eraser (removes or pseudonymises that app's personal fields inside the
erasure's transaction) and the objects that are the person's own (so the audit trail's events
about them are found and their personal values redacted). accounts registers the account and the
audit trail; workforce the profile; labeling the work history. `payments` registers its earnings
(ledger entries, payout accounts) here when it has them: its ledger rows are kept, pseudonymous.

This module is the registry and the download; `accounts.erasure` holds the services that erase.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.admin.models import LogEntry
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, ErasureRequest, RoleGrant, User
from accounts.selectors import api_tokens_forget, user_roles_forget
from core.audit import (
    REDACTED,
    AuditSubject,
    PersonalValue,
    audit_events_of_person,
    audit_redact_person,
)
from core.models import AuditEvent

EXPORT_FORMAT = "quorum.personal-data/1"
# Buffered chunks of the streamed download: few enough writes, little memory.
STREAM_CHUNK_CHARS = 64 * 1024
# The audit trail's section erases last: it redacts what the other sections knew about the person.
AUDIT_ERASE_ORDER = 1000


def erased_email(user_id: int) -> str:
    """The e-mail address an erased person's user row keeps: unique, undeliverable, no identity."""
    return f"erased-{user_id}@erased.invalid"


@dataclass
class Erasure:
    """What one erasure knows and collects while its sections run (inside one transaction)."""

    user: User
    actor: User | None
    # Texts that identify the person (e-mail addresses, name), read before any section runs.
    personal_values: list[PersonalValue]
    # The person's own objects, from every section, read before any section runs.
    subjects: list[AuditSubject]
    outcome: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, section: str, what: str, n: int) -> None:
        """Record that `section` changed `n` rows of `what` (kept on the request as its outcome)."""
        if n:
            self.outcome.setdefault(section, {})[what] = n


@dataclass(frozen=True)
class PersonalDataSection:
    """One app's part of a person's data."""

    name: str
    title: str
    export: Callable[[User], Mapping[str, Any]]
    erase: Callable[[Erasure], None]
    subjects: Callable[[User], Iterable[AuditSubject]] = lambda user: ()
    erase_order: int = 100


_sections: dict[str, PersonalDataSection] = {}


def personal_data_section_register(section: PersonalDataSection) -> None:
    """Add (or replace, on a re-run of `ready()`) a section of personal data."""
    _sections[section.name] = section


def personal_data_sections() -> list[PersonalDataSection]:
    """The registered sections in erasure order (ties by name, so the order is stable)."""
    return sorted(_sections.values(), key=lambda s: (s.erase_order, s.name))


def person_subjects(user: User) -> list[AuditSubject]:
    """Every object that is the person's own, from every section."""
    return [subject for section in personal_data_sections() for subject in section.subjects(user)]


# --- The download --------------------------------------------------------------------------


def _json_chunks(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + json.dumps(str(key)) + ":"
            yield from _json_chunks(item)
        yield "}"
    elif isinstance(value, list | tuple | Iterator) or (
        isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray)
    ):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _json_chunks(item)
        yield "]"
    else:
        yield json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _buffered(chunks: Iterable[str], size: int) -> Iterator[str]:
    buffer: list[str] = []
    length = 0
    for chunk in chunks:
        buffer.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)


def personal_data_export(*, user: User) -> Iterator[str]:
    """Stream the person's data as one JSON document, section by section.

    Only data about `user` is read; other people appear by their user id alone. Rows are read in
    chunks as the document is written, so memory stays bounded however long the history is.
    """
    document = {
        "format": EXPORT_FORMAT,
        "generated_at": timezone.now(),
        "user_id": user.pk,
        "sections": {
            section.name: _lazy_section(section, user)
            for section in sorted(_sections.values(), key=lambda s: s.name)
        },
    }
    return _buffered(_json_chunks(document), STREAM_CHUNK_CHARS)


def _lazy_section(section: PersonalDataSection, user: User) -> Mapping[str, Any]:
    class _Lazy(Mapping[str, Any]):
        # The exporter runs when the stream reaches its section, not when the stream is set up.
        _data: Mapping[str, Any] | None = None

        def _get(self) -> Mapping[str, Any]:
            if self._data is None:
                self._data = {"title": section.title, **section.export(user)}
            return self._data

        def __getitem__(self, key: str) -> Any:
            return self._get()[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self._get())

        def __len__(self) -> int:
            return len(self._get())

    return _Lazy()


# --- accounts' own sections: the account, and the audit trail ------------------------------

_USER_PERSONAL_KEYS = frozenset({"email", "full_name"})


def _account_export(user: User) -> Mapping[str, Any]:
    return {
        "user": {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "is_active": user.is_active,
        },
        "roles": [
            {"role": g.role, "level": g.level, "granted_at": g.granted_at}
            for g in RoleGrant.objects.filter(user=user).order_by("role")
        ],
        "email_addresses": [
            {"email": a.email, "verified": a.verified, "primary": a.primary}
            for a in EmailAddress.objects.filter(user=user).order_by("pk")
        ],
        # What kind of second factor and when: never its secret or recovery codes.
        "second_factors": [
            {"type": a.type, "created_at": a.created_at, "last_used_at": a.last_used_at}
            for a in Authenticator.objects.filter(user=user).order_by("pk")
        ],
        # Metadata only: a key is never stored, and its digest is not the person's to read.
        "api_tokens": (
            {
                "name": t.name,
                "prefix": t.prefix,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
            }
            for t in ApiToken.objects.filter(user=user).order_by("pk").iterator(chunk_size=500)
        ),
        "erasure_requests": [
            {
                "id": r.pk,
                "status": r.status,
                "requested_at": r.requested_at,
                "decided_at": r.decided_at,
                "decision_note": r.decision_note,
            }
            for r in ErasureRequest.objects.filter(user=user).order_by("pk")
        ],
    }


def _account_subjects(user: User) -> Iterable[AuditSubject]:
    yield AuditSubject(User, (user.pk,), _USER_PERSONAL_KEYS)
    yield AuditSubject(
        ApiToken, tuple(ApiToken.objects.filter(user=user).values_list("pk", flat=True))
    )


def _account_erase(erasure: Erasure) -> None:
    user = erasure.user
    now = timezone.now()
    revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    api_tokens_forget(user_id=user.pk)
    erasure.count("account", "api_tokens_revoked", revoked)
    erasure.count("account", "second_factors_deleted", _delete(Authenticator, user))
    erasure.count("account", "email_addresses_deleted", _delete(EmailAddress, user))
    erasure.count("account", "roles_removed", _delete(RoleGrant, user))
    user_roles_forget(user)
    pseudonym = erased_email(user.pk)
    if user.email != pseudonym or user.full_name or user.is_active or user.has_usable_password():
        user.email = pseudonym
        user.full_name = ""
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        # Every session's auth hash derives from the password: changing it ends them all.
        user.set_unusable_password()
        user.save(
            update_fields=[
                "email",
                "full_name",
                "is_active",
                "is_staff",
                "is_superuser",
                "password",
            ]
        )
        erasure.count("account", "user_pseudonymised", 1)
    # The Django admin site's own log names objects by their text, which for a user is the e-mail.
    logged = 0
    for value in erasure.personal_values:
        for entry in LogEntry.objects.filter(
            Q(object_repr__icontains=value.text) | Q(change_message__icontains=value.text)
        ):
            entry.object_repr = _replace_ci(entry.object_repr, value)
            entry.change_message = _replace_ci(entry.change_message, value)
            entry.save(update_fields=["object_repr", "change_message"])
            logged += 1
    erasure.count("account", "admin_log_entries_redacted", logged)


def _delete(model: Any, user: User) -> int:
    deleted, _ = model.objects.filter(user=user).delete()
    return int(deleted)


def _replace_ci(text: str, value: PersonalValue) -> str:
    return re.sub(re.escape(value.text), value.replacement, text, flags=re.IGNORECASE)


def _audit_export(user: User) -> Mapping[str, Any]:
    subjects = person_subjects(user)
    own = {
        (s.model._meta.app_label, s.model._meta.model_name, str(pk))
        for s in subjects
        for pk in s.ids
    }
    events = (
        AuditEvent.objects.filter(audit_events_of_person(user_id=user.pk, subjects=subjects))
        .select_related("target_type")
        .order_by("occurred_at", "pk")
    )

    def rows() -> Iterator[dict[str, Any]]:
        for event in events.iterator(chunk_size=500):
            key = (event.target_type.app_label, event.target_type.model, event.target_id)
            row: dict[str, Any] = {
                "id": event.pk,
                "occurred_at": event.occurred_at,
                "action": event.action,
                "target_type": f"{key[0]}.{key[1]}",
                "target_id": event.target_id,
                # Other people appear by their id alone.
                "actor_id": event.actor_id,
                "by_you": event.actor_id == user.pk,
            }
            if key in own:
                # About the person's own things: the snapshots are theirs to read.
                row.update(target=event.target_repr, before=event.before, after=event.after)
            if event.actor_id == user.pk:
                row["ip_address"] = event.ip_address
            yield row

    return {"events": rows()}


def _audit_erase(erasure: Erasure) -> None:
    redacted = audit_redact_person(
        user_id=erasure.user.pk, subjects=erasure.subjects, values=erasure.personal_values
    )
    erasure.count("audit", "events_redacted", redacted)


def register_account_sections() -> None:
    """Register accounts' sections (called from `AccountsConfig.ready`)."""
    personal_data_section_register(
        PersonalDataSection(
            name="account",
            title="Your account: e-mail, name, roles, second factors and API tokens",
            export=_account_export,
            erase=_account_erase,
            subjects=_account_subjects,
            erase_order=900,
        )
    )
    personal_data_section_register(
        PersonalDataSection(
            name="audit",
            title="Audit trail: what you did, and what was done to your account and profile",
            export=_audit_export,
            erase=_audit_erase,
            erase_order=AUDIT_ERASE_ORDER,
        )
    )


__all__ = [
    "REDACTED",
    "AuditSubject",
    "Erasure",
    "PersonalDataSection",
    "PersonalValue",
    "erased_email",
    "personal_data_export",
    "personal_data_section_register",
    "personal_data_sections",
]
