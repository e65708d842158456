"""Reads of rate cards: which version is in force, and the one lookup that prices a piece of work.

The order in which a rate is chosen (docs/finance-rates.md says the same to finance):

1. **The card.** The project's own card, when it has a version in force at the moment; otherwise
   the customer's default card. A project card replaces the default as a whole: a kind of work
   it does not price is not paid on that project.
2. **The version.** Of that card, the version with the latest `effective_from` not after the
   moment (withdrawn versions never apply).
3. **The rate.** Among the version's rates for the work kind that fit the person, the most
   specific wins, compared in this order: a rate for the exact review level beats one for any
   level; then one for the person's tier beats one for any tier; then the highest minimum skill
   level the person reaches beats lower ones and "any". The version's unique key (kind, review
   level, tier, skill level) leaves no tie.

Training and test work is priced only while the workforce setting `QUORUM_TRAINING_TIME_PAID`
says training time is paid; otherwise the lookup answers None for them, whatever the card says.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models import F, Min, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from core.statements import statement_rows
from kit.money import Micros
from labeling.models import Project
from payments.lock_objects import PersonPayLocked
from payments.models import (
    CHECK_WORK_KINDS,
    AccountKind,
    Rate,
    RateCard,
    RateCardVersion,
    RateUnit,
    WorkKind,
)
from workforce.selectors.people import skill_levels_of
from workforce.selectors.tiers import tier_of

RATE_ORDER = ("work_kind", "review_level", "tier", "min_skill_level", "pk")
# Training and test work: paid only while the operator's setting says training time is paid.
UNPAID_UNLESS_TRAINING_PAID = CHECK_WORK_KINDS


@dataclass(frozen=True)
class WorkProfile:
    """What a rate is matched against: the kind of work and who did it."""

    work_kind: str
    review_level: int  # the level of review work; 0 for other kinds
    tier: str
    skill_level: int  # the person's level in the project's skill; 0 without one


@dataclass(frozen=True)
class RateMatch:
    """The rate that prices a piece of work, and the card version it comes from (to record)."""

    rate: Rate
    version: RateCardVersion
    amount: Micros
    unit: RateUnit

    @property
    def is_project_card(self) -> bool:
        return self.version.card.project_id is not None


def rate_fits(rate: Rate, work: WorkProfile) -> bool:
    """Whether `rate` may price `work` (same kind, and each of its conditions met or "any")."""
    return (
        rate.work_kind == work.work_kind
        and rate.review_level in (0, work.review_level)
        and rate.tier in ("", work.tier)
        and rate.min_skill_level <= work.skill_level
    )


def rate_specificity(rate: Rate) -> tuple[bool, bool, int]:
    """The order of the module docstring: exact review level, then tier, then skill level."""
    return (rate.review_level != 0, rate.tier != "", rate.min_skill_level)


def rate_best(rates: Iterable[Rate], work: WorkProfile) -> Rate | None:
    """The most specific of `rates` that fits `work`, or None."""
    fitting = [rate for rate in rates if rate_fits(rate, work)]
    return max(fitting, key=rate_specificity, default=None)


def training_time_is_paid() -> bool:
    """The workforce setting, read when asked (never copied): is training and test time paid?"""
    return bool(settings.QUORUM_TRAINING_TIME_PAID)


# `rate_version_in_force`'s rule as one fixed statement: it runs inside every submit (payments
# prices work as labeling announces it), where building the same query with the ORM cost five
# times the query itself; a project no card prices costs this one statement and nothing else.
_VERSION_COLUMNS = [f.attname for f in RateCardVersion._meta.concrete_fields]
_CARD_COLUMNS = [f.attname for f in RateCard._meta.concrete_fields]
_RATE_COLUMNS = [f.attname for f in Rate._meta.concrete_fields]
_VERSION_IN_FORCE = (
    "SELECT "  # noqa: S608  (the columns are the models' own field names, nothing from outside)
    + ", ".join(
        [f"v.{c} AS v_{c}" for c in _VERSION_COLUMNS] + [f"c.{c} AS c_{c}" for c in _CARD_COLUMNS]
    )
    + """
FROM payments_ratecardversion v JOIN payments_ratecard c ON c.id = v.card_id
WHERE (c.project_id = %(project)s
       OR (c.project_id IS NULL
           AND c.customer_id = (SELECT customer_id FROM labeling_project WHERE id = %(project)s)))
  AND v.effective_from <= %(at)s AND v.withdrawn_at IS NULL
ORDER BY c.project_id IS NULL, v.effective_from DESC, v.id DESC
LIMIT 1
"""
)
# What pricing a submission needs, in the same one statement: the version in force (as above),
# its rates for the kind of work (one row each; none: one row of NULLs), the project's name and
# skill, and the person's pending and the project's labour expense accounts in the version's
# currency (NULL until opened). Prepared once per connection on PostgreSQL (core.statements):
# planning it cost PostgreSQL more than running it.
PRICING_WITH = f"WITH v AS ({_VERSION_IN_FORCE})"
PRICING_SELECT = (
    "SELECT v.*, "
    + ", ".join(f"r.{c} AS r_{c}" for c in _RATE_COLUMNS)
    + """, p.name AS p_name, p.customer_id AS p_customer_id,
       p.required_skill_id AS p_required_skill_id, pa.id AS pending_id, la.id AS labour_id"""
)
PRICING_FROM = """
FROM v
JOIN labeling_project p ON p.id = %(project)s
LEFT JOIN payments_rate r ON r.version_id = v.v_id AND r.work_kind = %(work_kind)s
LEFT JOIN payments_ledgeraccount pa
       ON pa.user_id = %(user)s AND pa.kind = %(pending)s AND pa.currency = v.v_currency
LEFT JOIN payments_ledgeraccount la
       ON la.project_id = %(project)s AND la.kind = %(labour)s AND la.currency = v.v_currency
"""
PRICING_ORDER = "ORDER BY r.id\n"
_PRICING = f"{PRICING_WITH}\n{PRICING_SELECT}{PRICING_FROM}{PRICING_ORDER}"
PRICING_ARGUMENTS = {
    "project": "bigint",
    "at": "timestamptz",
    "work_kind": "text",
    "user": "bigint",
    "pending": "text",
    "labour": "text",
}


def _converters(model: type[models.Model]) -> list[tuple[Any, list[Any]]]:
    """Each concrete field of `model` (as a column) with the converters the ORM applies to its
    raw values on this connection, worked out once per model and vendor."""
    key = (model, connection.vendor)
    found = _CONVERTERS.get(key)
    if found is None:
        found = []
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            steps = [(convert, field) for convert in field.get_db_converters(connection)] + [
                (convert, column) for convert in connection.ops.get_db_converters(column)
            ]
            found.append((field, steps))
        _CONVERTERS[key] = found
    return found


_CONVERTERS: dict[tuple[type[models.Model], str], list[tuple[Any, list[Any]]]] = {}


def model_values_converted(model: type[models.Model], values: Sequence[Any]) -> list[Any]:
    """Raw column values of `model`'s concrete fields, through the fields' converters, as the ORM
    reads them (times on SQLite are text)."""
    converted = []
    for (_field, steps), value in zip(_converters(model), values, strict=True):
        for convert, target in steps:
            value = convert(value, target, connection)
        converted.append(value)
    return converted


_SPLIT = len(_VERSION_COLUMNS)
_END = len(_VERSION_COLUMNS) + len(_CARD_COLUMNS)


def _version_of_row(row: Sequence[Any]) -> RateCardVersion:
    version = RateCardVersion.from_db(
        connection.alias, _VERSION_COLUMNS, model_values_converted(RateCardVersion, row[:_SPLIT])
    )
    version.card = RateCard.from_db(
        connection.alias, _CARD_COLUMNS, model_values_converted(RateCard, row[_SPLIT:_END])
    )
    return version


# The pricing read runs in every submit and almost always returns the same version, card and
# rates: the objects are made once per process for the same columns (any change to a row, a
# withdrawal say, is other columns and so other objects) and shared by the submits that price
# with them, which only read them (`PricingContext`).
_OBJECTS_KEPT = 256


@functools.lru_cache(maxsize=_OBJECTS_KEPT)
def _version_of_columns(columns: tuple[Any, ...]) -> RateCardVersion:
    return _version_of_row(columns)


def rate_version_in_force(*, project: Project | int, at: datetime) -> RateCardVersion | None:
    """The version that prices work on `project` (or the project of that id) at `at`: the
    project card's version in force, else the customer default's (one query, the card with
    it)."""
    project_id = project.pk if isinstance(project, Project) else project
    with connection.cursor() as cursor:
        cursor.execute(
            _VERSION_IN_FORCE,
            {"project": project_id, "at": connection.ops.adapt_datetimefield_value(at)},
        )
        row = cursor.fetchone()
    return _version_of_row(row) if row is not None else None


@dataclass(frozen=True)
class Finalising:
    """What making work payable with its own accrual needs, read and locked with its pricing
    (`pricing_to_finalise`)."""

    others_pending: bool  # the task has other pending per-task earnings (locked by the read)
    pay: PersonPayLocked | None  # the person's pay in the version's currency, locked (or None)
    hold: tuple[str, str] | None  # (cause, detail) that would hold the work now, or None
    earning_id: int  # the id the work's earning takes (drawn from the earnings' sequence)


@dataclass(frozen=True)
class PricingContext:
    """What pricing one submission reads, in one statement (`pricing_context`)."""

    # Shared with other submits priced by the same rows (`_version_of_columns`): read only.
    version: RateCardVersion
    rates: list[Rate]  # the version's rates for the work kind asked, ascending pk (read only)
    project: Project  # id, name, customer and required skill only
    pending_account_id: int | None  # the person's pending account in the version's currency
    labour_account_id: int | None  # the project's labour expense account in that currency
    # With work that makes its task final (payments.selectors.earnings.pricing_to_finalise):
    # what making it payable with its accrual needs, read and locked with it.
    finalising: Finalising | None = None


@functools.lru_cache(maxsize=_OBJECTS_KEPT)
def _rate_of_columns(columns: tuple[Any, ...], version_columns: tuple[Any, ...]) -> Rate:
    # Keyed by the version's columns, not its object: models compare equal by primary key alone,
    # and a rate must carry the version as read with it (a withdrawal is other columns).
    rate = Rate.from_db(connection.alias, _RATE_COLUMNS, model_values_converted(Rate, columns))
    rate.version = _version_of_columns(version_columns)
    return rate


def pricing_values(
    *, project_id: int, user_id: int, work_kind: str, at: datetime
) -> dict[str, Any]:
    """The arguments of the pricing read (`PRICING_ARGUMENTS`) for this work."""
    return {
        "project": project_id,
        "at": connection.ops.adapt_datetimefield_value(at),
        "work_kind": WorkKind(work_kind).value,
        "user": user_id,
        "pending": AccountKind.PENDING.value,
        "labour": AccountKind.LABOUR_EXPENSE_PROJECT.value,
    }


# The pricing read's columns: the version's and card's, the rate's, then the project's three and
# the two accounts'; a statement that extends it adds its own after these.
PRICING_COLUMNS = len(_VERSION_COLUMNS) + len(_CARD_COLUMNS) + len(_RATE_COLUMNS) + 5


# The project's fields the pricing read gives, in the model's field order (as from_db takes them).
_PROJECT_FIELDS = [
    f.attname
    for f in Project._meta.concrete_fields
    if f.attname in ("id", "name", "customer_id", "required_skill_id")
]


def pricing_of_rows(rows: Sequence[Sequence[Any]], *, project_id: int) -> PricingContext | None:
    """The pricing context in the pricing read's rows (the first `PRICING_COLUMNS` of each);
    None without rows (no version in force)."""
    if not rows:
        return None
    first = rows[0]
    version_columns = tuple(first[:_END])
    version = _version_of_columns(version_columns)
    start = len(_VERSION_COLUMNS) + len(_CARD_COLUMNS)
    end = start + len(_RATE_COLUMNS)
    rates = []
    for row in rows:
        if row[start] is None:  # no rate of that kind: the LEFT JOIN's row of NULLs
            continue
        rates.append(_rate_of_columns(tuple(row[start:end]), version_columns))
    name, customer_id, skill_id, pending_id, labour_id = first[end:PRICING_COLUMNS]
    known = {"id": project_id, "name": name, "customer_id": customer_id}
    known["required_skill_id"] = skill_id
    project = Project.from_db(
        connection.alias, _PROJECT_FIELDS, [known[f] for f in _PROJECT_FIELDS]
    )
    return PricingContext(
        version=version,
        rates=rates,
        project=project,
        pending_account_id=pending_id,
        labour_account_id=labour_id,
    )


def pricing_context(
    *, project_id: int, user_id: int, work_kind: str, at: datetime
) -> PricingContext | None:
    """The version in force on the project at `at` (`rate_version_in_force`'s rule), its rates
    for `work_kind`, the project and the two ledger accounts an accrual posts to, in one
    statement; None when no card prices the project (or there is no such project)."""
    rows = statement_rows(
        _PRICING,
        arguments=PRICING_ARGUMENTS,
        owner="payments",
        values=pricing_values(project_id=project_id, user_id=user_id, work_kind=work_kind, at=at),
    )
    return pricing_of_rows(rows, project_id=project_id)


def work_profile_of(
    *,
    project: Project,
    person: Any,
    work_kind: str,
    review_level: int | None = None,
    tier: str | None = None,
    skill_level: int | None = None,
) -> WorkProfile:
    """The profile of `person`'s work on `project`: their tier and their level in the project's
    skill now, unless the caller knows them (`tier`, `skill_level`) from the work's own time."""
    if tier is None:
        tier = tier_of(user=person)
    if skill_level is None:
        skill_level = (
            skill_levels_of(user=person).get(project.required_skill_id, 0)
            if project.required_skill_id is not None
            else 0
        )
    return WorkProfile(
        work_kind=WorkKind(work_kind).value,
        review_level=(review_level or 0) if work_kind == WorkKind.REVIEW else 0,
        tier=tier,
        skill_level=skill_level,
    )


def rate_lookup(
    *,
    project: Project,
    person: Any,
    work_kind: str,
    review_level: int | None = None,
    at: datetime | None = None,
    tier: str | None = None,
    skill_level: int | None = None,
) -> RateMatch | None:
    """Return the rate that prices `person`'s `work_kind` (review at `review_level`) on `project`
    at `at` (default now) and the version it comes from, or None when no rate applies.

    The person's tier and skill level are read now unless given (`tier`, `skill_level`). The
    choice follows the order of the module docstring. Training and test work answer None while
    training time is not paid. Reads only; an earning records `match.version`.
    """
    if work_kind in UNPAID_UNLESS_TRAINING_PAID and not training_time_is_paid():
        return None
    at = at or timezone.now()
    version = rate_version_in_force(project=project, at=at)
    if version is None:
        return None
    work = work_profile_of(
        project=project,
        person=person,
        work_kind=work_kind,
        review_level=review_level,
        tier=tier,
        skill_level=skill_level,
    )
    rate = rate_best(version.rates.filter(work_kind=work.work_kind), work)
    if rate is None:
        return None
    return RateMatch(
        rate=rate,
        version=version,
        amount=Micros(rate.amount_micros, version.currency),
        unit=RateUnit(rate.unit),
    )


def _current_version_id(now: datetime) -> Subquery:
    """The id of the card's (outer row) version in force at `now`, or None."""
    current = (
        RateCardVersion.objects.filter(
            card_id=OuterRef("pk"), effective_from__lte=now, withdrawn_at__isnull=True
        )
        .order_by("-effective_from", "-pk")
        .values("pk")[:1]
    )
    return Subquery(current, output_field=models.BigIntegerField())


def rate_cards_list() -> QuerySet[RateCard]:
    """Every card with its customer and project, customer by customer, the default first; each
    annotated with `current_version_id` (the version in force now, or None)."""
    return (
        RateCard.objects.select_related("customer", "project", "created_by")
        .annotate(current_version_id=_current_version_id(timezone.now()))
        .order_by("customer__name", "customer_id", F("project_id").asc(nulls_first=True), "pk")
    )


class VersionStatus(models.TextChoices):
    """Where a version stands now (derived, not stored)."""

    SCHEDULED = "scheduled", "Scheduled"
    IN_FORCE = "in_force", "In force"
    SUPERSEDED = "superseded", "Superseded"
    WITHDRAWN = "withdrawn", "Withdrawn"


def _next_version_from() -> Subquery:
    """When the next version of the same card (outer row) takes over: the version's end."""
    later = (
        RateCardVersion.objects.filter(
            card_id=OuterRef("card_id"),
            withdrawn_at__isnull=True,
            effective_from__gt=OuterRef("effective_from"),
        )
        .order_by()
        .values("card_id")
        .annotate(first=Min("effective_from"))
        .values("first")
    )
    return Subquery(later, output_field=models.DateTimeField())


def rate_versions_list() -> QuerySet[RateCardVersion]:
    """Every version with its card and its rates (two queries), newest first within a card;
    each annotated with `ends_at`, when the card's next version takes over (None: open)."""
    return (
        RateCardVersion.objects.select_related(
            "card", "card__customer", "card__project", "created_by", "withdrawn_by"
        )
        .prefetch_related(Prefetch("rates", queryset=Rate.objects.order_by(*RATE_ORDER)))
        .annotate(ends_at=_next_version_from())
    )


def rate_version_status(version: RateCardVersion, *, now: datetime | None = None) -> VersionStatus:
    """Scheduled, in force, superseded or withdrawn, now (`ends_at` from `rate_versions_list`)."""
    now = now or timezone.now()
    if version.withdrawn_at is not None:
        return VersionStatus.WITHDRAWN
    if version.effective_from > now:
        return VersionStatus.SCHEDULED
    ends_at = getattr(version, "ends_at", None)
    if ends_at is not None and ends_at <= now:
        return VersionStatus.SUPERSEDED
    return VersionStatus.IN_FORCE


def rate_version_current_of(
    *, card: RateCard, at: datetime | None = None
) -> RateCardVersion | None:
    """The card's version in force at `at` (default now), or None before its first one."""
    return (
        card.versions.filter(effective_from__lte=at or timezone.now(), withdrawn_at__isnull=True)
        .order_by("-effective_from", "-pk")
        .first()
    )


def rate_version_scheduled_of(
    *, card: RateCard, at: datetime | None = None
) -> list[RateCardVersion]:
    """The card's versions that will take effect after `at` (default now), soonest first."""
    return list(
        card.versions.filter(
            effective_from__gt=at or timezone.now(), withdrawn_at__isnull=True
        ).order_by("effective_from", "pk")
    )
