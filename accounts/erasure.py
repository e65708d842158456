"""Erasure requests and the erasure itself: every write of the personal-data workflow.

A person asks (or an administrator records their written request); another administrator
executes it, which runs every registered section's eraser in one transaction: all sections or
none. The user row stays (labels, reviews, the ledger and the audit trail point at it) but no
longer identifies anyone. See docs/security.md, "Personal data: download and erasure".
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from accounts.models import ErasureRequest, ErasureStatus, User
from accounts.personal_data import (
    REDACTED,
    Erasure,
    PersonalValue,
    erased_email,
    person_subjects,
    personal_data_sections,
)
from core.audit import audit_record, snapshot
from core.errors import Conflict, PermissionDenied, ValidationFailed

_REQUEST_FIELDS = ["status", "decided_by", "decided_at"]


def user_is_erased(user: User) -> bool:
    return user.email == erased_email(user.pk)


def _locked(request: ErasureRequest) -> ErasureRequest:
    return ErasureRequest.objects.select_for_update().get(pk=request.pk)


@transaction.atomic
def erasure_request_create(*, user: User, requested_by: User) -> ErasureRequest:
    """Open an erasure request for `user`; an open one is returned as it is.

    Raise Conflict if the person's data is already erased.
    """
    locked_user = User.objects.select_for_update().get(pk=user.pk)
    if user_is_erased(locked_user):
        raise Conflict("This person's personal data is already erased.", code="already_erased")
    request = ErasureRequest.objects.filter(
        user=locked_user, status=ErasureStatus.REQUESTED
    ).first()
    if request is not None:
        return request
    request = ErasureRequest.objects.create(user=locked_user, requested_by=requested_by)
    audit_record(
        actor=requested_by,
        action="erasure.requested",
        target=request,
        after={"user": locked_user.pk, "status": request.status},
    )
    return request


def _close(
    request: ErasureRequest, *, status: ErasureStatus, actor: User, note: str = ""
) -> ErasureRequest:
    before = snapshot(request, _REQUEST_FIELDS)
    request.status = status
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_note = note
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "outcome"])
    audit_record(
        actor=actor,
        action=f"erasure.{status}",
        target=request,
        before=before,
        after={**snapshot(request, _REQUEST_FIELDS), "outcome": request.outcome},
    )
    return request


@transaction.atomic
def erasure_request_cancel(*, request: ErasureRequest, actor: User) -> ErasureRequest:
    """Withdraw an open request (the person's own); cancelling twice changes nothing.

    Raise Conflict if the request was already executed or rejected.
    """
    locked = _locked(request)
    if locked.status == ErasureStatus.CANCELLED:
        return locked
    if locked.status != ErasureStatus.REQUESTED:
        raise Conflict(f"This request is already {locked.get_status_display().lower()}.")
    return _close(locked, status=ErasureStatus.CANCELLED, actor=actor)


@transaction.atomic
def erasure_request_reject(*, request: ErasureRequest, actor: User, note: str) -> ErasureRequest:
    """Refuse an open request with a reason the person will read (e.g. a legal hold).

    Raise ValidationFailed without a reason, Conflict if the request is no longer open.
    """
    note = note.strip()
    if not note:
        raise ValidationFailed(
            "Say why the request is rejected; the person reads it.",
            fields={"note": ["This field is required."]},
        )
    locked = _locked(request)
    if locked.status != ErasureStatus.REQUESTED:
        raise Conflict(f"This request is already {locked.get_status_display().lower()}.")
    return _close(locked, status=ErasureStatus.REJECTED, actor=actor, note=note)


@transaction.atomic
def erasure_request_execute(*, request: ErasureRequest, actor: User) -> ErasureRequest:
    """Erase the person's personal data in every section and close the request.

    Executing an executed request changes nothing. Raise PermissionDenied when administrators
    would execute their own request (another one must), Conflict when it is not open. Locks the
    request, then the user row, then what each section changes.
    """
    locked = _locked(request)
    if locked.status == ErasureStatus.EXECUTED:
        return locked
    if locked.status != ErasureStatus.REQUESTED:
        raise Conflict(f"This request is already {locked.get_status_display().lower()}.")
    if locked.user_id == actor.pk:
        raise PermissionDenied(
            "Another administrator must execute the erasure of your own data.",
            code="erasure_own_request",
        )
    locked.outcome = personal_data_erase(user=locked.user, actor=actor)
    return _close(locked, status=ErasureStatus.EXECUTED, actor=actor)


@transaction.atomic
def personal_data_erase(*, user: User, actor: User | None) -> dict[str, dict[str, int]]:
    """Run every section's eraser for `user`; return what each changed (row counts).

    All sections run in this one transaction, so an error in any leaves everything as it was.
    Running it again on an erased person changes nothing. Locks the user row first.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    pseudonym = erased_email(locked.pk)
    emails = {
        locked.email,
        *EmailAddress.objects.filter(user=locked).values_list("email", flat=True),
    }
    values = [PersonalValue(email, pseudonym) for email in sorted(emails) if email != pseudonym]
    if locked.full_name.strip():
        values.append(PersonalValue(locked.full_name.strip(), REDACTED))
    erasure = Erasure(
        user=locked, actor=actor, personal_values=values, subjects=person_subjects(locked)
    )
    for section in personal_data_sections():
        section.erase(erasure)
    if erasure.outcome:
        audit_record(
            actor=actor,
            action="personal_data.erased",
            target=locked,
            after={"user": locked.pk, "outcome": erasure.outcome},
        )
    return erasure.outcome
