"""Writing rate cards: finance adds versions (and withdraws one not yet in force).

A change to what work pays is a new version of the card, effective from a moment not before now:
rates are never changed retroactively, and a version in force is never edited, because earnings
record the version that priced them. Only finance (with its second factor) writes rate cards;
`actor=None` is the system itself (the demo seed, management commands).

Lock order: the rate card row (`payments.lock_objects.rate_card_lock`), alone; rate card writes
take no ledger lock.

`rate_lookup`, the one read accrual calls to price work, lives with the other reads in
payments/selectors/rates.py and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from accounts.policy import Action, can, roles_require_mfa
from accounts.selectors import user_has_mfa
from core.audit import audit_record
from core.errors import Conflict, PermissionDenied, ValidationFailed
from kit.money import MoneyError, currency_exponent
from labeling.models import Customer, Project
from payments.lock_objects import rate_card_lock
from payments.models import (
    MAX_SKILL_LEVEL,
    Rate,
    RateCard,
    RateCardVersion,
    RateUnit,
    WorkKind,
)
from payments.selectors.rates import rate_lookup
from workforce.selectors.tiers import tier_is_valid, tier_max_review_level

NOTE_MAX = 500
# A version holds one rate per (kind, review level, tier, skill level); more is a mistake.
RATES_MAX = 200


@dataclass(frozen=True)
class RateSpec:
    """One rate to put in a new version ("any" is "" for the tier and 0 for the levels)."""

    work_kind: str
    unit: str
    amount_micros: int
    review_level: int = 0
    tier: str = ""
    min_skill_level: int = 0

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.work_kind, self.review_level, self.tier, self.min_skill_level)


def _require_finance(actor: User | None) -> None:
    if actor is None:
        return  # the system itself: the demo seed, a management command
    if not can(actor, Action.RATES_MANAGE):
        raise PermissionDenied("Only finance sets rate cards.")
    if roles_require_mfa(actor) and not user_has_mfa(actor):
        raise PermissionDenied(
            "Set up your second factor before changing rate cards.", code="mfa_required"
        )


def _is_int(value: object) -> bool:
    # bool is an int subclass; a float is never an amount.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_rate(index: int, spec: RateSpec) -> dict[str, list[str]]:
    """The field errors of one rate, named `rates.<i>.<field>` (as the API names them)."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(f"rates.{index}.{field}", []).append(message)

    if spec.work_kind not in WorkKind.values:
        bad("work_kind", f"Use one of {', '.join(WorkKind.values)}.")
    if spec.unit not in RateUnit.values:
        bad("unit", f"Use one of {', '.join(RateUnit.values)}.")
    if not _is_int(spec.amount_micros):
        bad("amount_micros", "An integer number of micro-units, never a float or text.")
    elif spec.amount_micros <= 0:
        bad("amount_micros", "A rate is more than zero; leave out work that is not paid.")
    elif spec.amount_micros > 10**15:
        bad("amount_micros", "At most 1,000,000,000 major units.")
    if not _is_int(spec.review_level) or spec.review_level < 0:
        bad("review_level", "0 (any level) or a review level from 1.")
    elif spec.review_level and spec.work_kind != WorkKind.REVIEW:
        bad("review_level", "Only review work has a review level; use 0.")
    elif spec.review_level > tier_max_review_level():
        bad("review_level", f"Review levels go up to {tier_max_review_level()}.")
    if not isinstance(spec.tier, str) or (spec.tier and not tier_is_valid(spec.tier)):
        bad(
            "tier",
            f'Empty (any tier), "annotator", "reviewer-1" to "reviewer-{tier_max_review_level()}" '
            'or "lead".',
        )
    if not _is_int(spec.min_skill_level) or not 0 <= spec.min_skill_level <= MAX_SKILL_LEVEL:
        bad("min_skill_level", f"0 (any level) to {MAX_SKILL_LEVEL}.")
    return errors


def _check_rates(rates: Sequence[RateSpec]) -> None:
    if not rates:
        message = "A version has at least one rate."
        raise ValidationFailed(message, fields={"rates": [message]})
    if len(rates) > RATES_MAX:
        message = f"At most {RATES_MAX} rates in a version."
        raise ValidationFailed(message, fields={"rates": [message]})
    errors: dict[str, list[str]] = {}
    seen: dict[tuple[str, int, str, int], int] = {}
    for index, spec in enumerate(rates):
        found = _check_rate(index, spec)
        errors.update(found)
        if found:
            continue
        if spec.key in seen:
            errors[f"rates.{index}"] = [
                f"Rate {seen[spec.key] + 1} already prices this kind, review level, tier and "
                "skill level; keep one."
            ]
        seen.setdefault(spec.key, index)
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(f"A rate is not valid: {first}", fields=errors)


def _card_owner(customer: Customer | None, project: Project | None) -> Customer:
    if project is not None:
        if customer is not None and customer.pk != project.customer_id:
            message = "The project belongs to another customer."
            raise ValidationFailed(message, fields={"customer": [message]})
        return project.customer
    if customer is None:
        message = "Name the customer (for their default card) or the project."
        raise ValidationFailed(message, fields={"customer": [message], "project": [message]})
    return customer


def _check_moment(effective_from: datetime | None, now: datetime) -> datetime:
    if effective_from is None:
        return now
    if timezone.is_naive(effective_from):
        message = "Give the moment with its time zone."
        raise ValidationFailed(message, fields={"effective_from": [message]})
    if effective_from < now:
        message = (
            "A change applies from now on, never before: choose a moment not before "
            f"{now:%Y-%m-%d %H:%M:%S} UTC (or leave it empty for now)."
        )
        raise ValidationFailed(message, fields={"effective_from": [message]})
    return effective_from


def _card_get_or_create(
    *, customer: Customer, project: Project | None, actor: User | None, now: datetime
) -> RateCard:
    lookup: dict[str, Any] = (
        {"project": project} if project is not None else {"customer": customer, "project": None}
    )
    card = RateCard.objects.filter(**lookup).first()
    if card is not None:
        return card
    try:
        with transaction.atomic():
            card = RateCard.objects.create(
                customer=customer, project=project, created_by=actor, created_at=now
            )
    except IntegrityError:
        # Made meanwhile by another finance user's first version.
        return RateCard.objects.get(**lookup)
    audit_record(
        actor=actor,
        action="rates.card_create",
        target=card,
        after={"customer": customer.pk, "project": project.pk if project else None},
    )
    return card


@transaction.atomic
def rate_card_version_create(
    *,
    actor: User | None,
    currency: str,
    rates: Sequence[RateSpec],
    customer: Customer | None = None,
    project: Project | None = None,
    effective_from: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> RateCardVersion:
    """Add a version to the project's card (or, without a project, to the customer's default
    card), creating the card the first time. The version replaces the card's rates from
    `effective_from` (default: now), which may not be before now; its rates are the complete
    set from then on.

    Finance only, with MFA (PermissionDenied). Raises ValidationFailed naming the field
    (`currency`, `effective_from`, `note`, `customer`, `rates.<i>.<field>`, as the API names them) and Conflict when
    another version of the card takes effect at the same moment. Locks the card row.
    `now` is the clock, for tests and the demo; requests never pass it.
    """
    _require_finance(actor)
    now = now or timezone.now()
    owner = _card_owner(customer, project)
    try:
        currency_exponent(currency)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), fields={"currency": [str(exc)]}) from None
    note = note.strip()
    if len(note) > NOTE_MAX:
        message = f"At most {NOTE_MAX} characters."
        raise ValidationFailed(message, fields={"note": [message]})
    starts = _check_moment(effective_from, now)
    _check_rates(rates)
    card = _card_get_or_create(customer=owner, project=project, actor=actor, now=now)
    card = rate_card_lock(card.pk)
    clash = card.versions.filter(effective_from=starts, withdrawn_at__isnull=True).first()
    if clash is not None:
        raise Conflict(
            f"Version {clash.number} of this card already takes effect at that moment; "
            "withdraw it or choose another moment.",
            extra={"fields": {"effective_from": ["Another version starts at this moment."]}},
        )
    number = (card.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = RateCardVersion.objects.create(
        card=card,
        number=number,
        effective_from=starts,
        currency=currency,
        note=note,
        created_at=now,
        created_by=actor,
    )
    Rate.objects.bulk_create(
        Rate(
            version=version,
            work_kind=spec.work_kind,
            review_level=spec.review_level,
            tier=spec.tier,
            min_skill_level=spec.min_skill_level,
            unit=spec.unit,
            amount_micros=spec.amount_micros,
        )
        for spec in rates
    )
    audit_record(
        actor=actor,
        action="rates.version_create",
        target=version,
        after={
            "card": card.pk,
            "customer": card.customer_id,
            "project": card.project_id,
            "number": number,
            "effective_from": starts,
            "currency": currency,
            "note": note,
            "rates": [asdict(spec) for spec in rates],
        },
    )
    return version


@transaction.atomic
def rate_card_version_withdraw(
    *, version: RateCardVersion, actor: User | None, reason: str, now: datetime | None = None
) -> RateCardVersion:
    """Withdraw a version that is not yet in force, so that it never applies (the versions
    before it go on applying). Finance only. Raises ValidationFailed (field `reason`) and
    Conflict for a version already in force or already withdrawn. Locks the card row."""
    _require_finance(actor)
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "Say why the version is withdrawn.", fields={"reason": ["This field is required."]}
        )
    if len(reason) > NOTE_MAX:
        message = f"At most {NOTE_MAX} characters."
        raise ValidationFailed(message, fields={"reason": [message]})
    rate_card_lock(version.card_id)
    current = RateCardVersion.objects.get(pk=version.pk)
    if current.withdrawn_at is not None:
        raise Conflict(f"Version {current.number} is already withdrawn.")
    if current.effective_from <= now:
        raise Conflict(
            f"Version {current.number} is in force since {current.effective_from:%Y-%m-%d %H:%M} "
            "UTC and may have priced work: add a new version instead.",
            extra={"fields": {"effective_from": ["This version is already in force."]}},
        )
    RateCardVersion.objects.filter(
        pk=current.pk, withdrawn_at__isnull=True, effective_from__gt=now
    ).update(withdrawn_at=now, withdrawn_by=actor, withdraw_reason=reason)
    current.refresh_from_db()
    audit_record(
        actor=actor,
        action="rates.version_withdraw",
        target=current,
        before={"effective_from": current.effective_from},
        after={"withdrawn_at": now, "reason": reason},
    )
    return current


__all__ = [
    "RateSpec",
    "rate_card_version_create",
    "rate_card_version_withdraw",
    "rate_lookup",
]
