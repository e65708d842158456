"""Writing incentive programs and closing their periods.

Finance (with its second factor) creates a program and adds versions; `actor=None` is the system
itself (the demo seed, the beat task). A version applies from a moment not before its making, so
nothing changes a period retroactively; a period is judged by the version in force at its end.

Closing a period (`incentive_period_close_start`, then the Celery task that calls
`incentive_period_close_run`) works in batches, each its own transaction, so a big period holds
one batch in memory and shows its progress on the period row:

1. judge: for each batch of people (ascending user id), read their figures and store one
   `IncentiveBonusLine` per person with the figures, the tier met and the capped amount;
2. hold to the budget: with every line stored, the total before the budget is one aggregate;
   each line's amount follows from `incentive_rules.budget_scaled` or `budget_stopped` (the
   latter in the stop order, batch by batch, from the amounts already assigned);
3. post: one ledger transaction per line with an amount, source key
   `incentive:<version>:<period start>:<person>` (payable +amount, bonus expense -amount), so
   a repeat, a resumed close or a second close posts nothing twice.

A crashed close resumes where it stopped when run again (the beat task or the button). The
preview (`incentive_period_preview`) runs the same formula and budget functions over the same
figures without writing, so it shows what the close will pay.

Lock order: the period row (`incentive_period_lock`), then what `ledger_post` takes (the source
key, then the person's payable account). Nothing else is locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from accounts.models import User
from accounts.policy import Action, can, roles_require_mfa
from accounts.selectors import user_has_mfa
from core.audit import audit_record
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.table_statistics import tables_analyze_stale
from kit.money import Micros, Minor, MoneyError, currency_exponent
from labeling.enqueue import job_enqueue
from labeling.models import Project
from payments.incentive_rules import (
    THRESHOLDS,
    Award,
    BudgetPolicy,
    Ranked,
    Rules,
    award,
    budget_apply,
    budget_scaled,
    budget_stopped,
    rank_key,
    rules_errors,
    rules_of,
)
from payments.lock_objects import incentive_period_lock
from payments.models import (
    AccountKind,
    EarningDay,
    IncentiveBonusLine,
    IncentivePeriod,
    IncentivePeriodKind,
    IncentivePeriodStatus,
    IncentiveProgram,
    IncentiveScope,
    IncentiveVersion,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from payments.selectors.incentives import (
    DEFAULT_BATCH,
    PersonFigures,
    bonus_source_key,
    incentive_figures,
    incentive_people_batches,
    incentive_people_count,
    incentive_version_for_period,
    period_bounds,
)
from payments.services.ledger import (
    Leg,
    ledger_account_get_or_create,
    ledger_person_accounts_get_or_create,
    ledger_post,
)
from quality.performance.models import PersonHour
from quality.performance.selectors import rollups_until
from workforce.models import Team, TeamMembership

INCENTIVE_CLOSE_TASK = "payments.tasks.incentive_period_close_run"
NAME_MAX = 120
NOTE_MAX = 500


def _require_finance(actor: User | None) -> None:
    if actor is None:
        return  # the system itself: the demo seed, the beat task
    if not can(actor, Action.INCENTIVES_MANAGE):
        raise PermissionDenied("Only finance manages incentive programs.")
    if roles_require_mfa(actor) and not user_has_mfa(actor):
        raise PermissionDenied(
            "Set up your second factor before changing incentive programs.", code="mfa_required"
        )


def _fail(fields: dict[str, list[str]]) -> None:
    if fields:
        first_field, messages = next(iter(fields.items()))
        raise ValidationFailed(f"{first_field}: {messages[0]}", fields=fields)


def _check_moment(effective_from: datetime | None, now: datetime) -> datetime:
    if effective_from is None:
        return now
    if timezone.is_naive(effective_from):
        _fail({"effective_from": ["Give the moment with its time zone."]})
    if effective_from < now:
        _fail(
            {
                "effective_from": [
                    "A change applies from now on, never before: choose a moment not before "
                    f"{now:%Y-%m-%d %H:%M:%S} UTC (or leave it empty for now)."
                ]
            }
        )
    return effective_from


def _rules_checked(
    *,
    kind: str,
    tiers: Sequence[dict[str, Any]],
    cap_minor: int | None,
    budget_minor: int | None,
    budget_policy: str,
) -> Rules:
    if not isinstance(tiers, list | tuple) or not all(isinstance(t, dict) for t in tiers):
        _fail({"tiers": ["A list of tiers, each an object."]})
    _fail(
        rules_errors(
            kind=kind,
            tiers=tiers,
            cap_minor=cap_minor,
            budget_minor=budget_minor,
            budget_policy=budget_policy,
        )
    )
    return rules_of(
        kind=kind,
        tiers=tiers,
        cap_minor=cap_minor,
        budget_minor=budget_minor,
        budget_policy=budget_policy,
    )


@dataclass(frozen=True)
class VersionSpec:
    """What a new version pays (see payments/incentive_rules.py)."""

    kind: str
    tiers: Sequence[dict[str, Any]]
    cap_minor: int | None = None
    budget_minor: int | None = None
    budget_policy: str = BudgetPolicy.SCALE
    effective_from: datetime | None = None
    note: str = ""


@transaction.atomic
def incentive_program_create(
    *,
    actor: User | None,
    name: str,
    scope: str,
    period: str,
    currency: str,
    first_version: VersionSpec,
    project: Project | None = None,
    team: Team | None = None,
    now: datetime | None = None,
) -> IncentiveProgram:
    """Create a program with its first version. Finance only, with MFA (PermissionDenied).
    Raises ValidationFailed naming the field (`name`, `scope`, `project`, `team`, `period`,
    `currency`, and the version's fields as `incentive_version_add` names them)."""
    _require_finance(actor)
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        errors["name"] = [f"A name of 1 to {NAME_MAX} characters."]
    if scope not in IncentiveScope.values:
        errors["scope"] = [f"Use one of {', '.join(IncentiveScope.values)}."]
    if scope == IncentiveScope.PROJECT and project is None:
        errors["project"] = ["A project program names its project."]
    if scope != IncentiveScope.PROJECT and project is not None:
        errors["project"] = ["Only a project program names a project."]
    if scope == IncentiveScope.TEAM and team is None:
        errors["team"] = ["A team program names its team."]
    if scope != IncentiveScope.TEAM and team is not None:
        errors["team"] = ["Only a team program names a team."]
    if period not in IncentivePeriodKind.values:
        errors["period"] = [f"Use one of {', '.join(IncentivePeriodKind.values)}."]
    try:
        currency_exponent(currency)
    except MoneyError as exc:
        errors["currency"] = [str(exc)]
    _fail(errors)
    program = IncentiveProgram.objects.create(
        name=name,
        scope=scope,
        project=project,
        team=team,
        period=period,
        currency=currency,
        created_at=now,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="incentives.program_create",
        target=program,
        after={
            "name": name,
            "scope": scope,
            "project": project.pk if project else None,
            "team": team.pk if team else None,
            "period": period,
            "currency": currency,
        },
    )
    incentive_version_add(actor=actor, program=program, spec=first_version, now=now)
    return program


@transaction.atomic
def incentive_version_add(
    *,
    actor: User | None,
    program: IncentiveProgram,
    spec: VersionSpec,
    now: datetime | None = None,
) -> IncentiveVersion:
    """Add a version to `program`, in force from `spec.effective_from` (default now, never
    before now). Finance only, with MFA. Raises ValidationFailed naming the field (`kind`,
    `tiers`, `tiers.<i>.<field>`, `cap_minor`, `budget_minor`, `budget_policy`,
    `effective_from`, `note`) and Conflict when another version starts at the same moment.
    Locks the program row."""
    _require_finance(actor)
    now = now or timezone.now()
    starts = _check_moment(spec.effective_from, now)
    note = spec.note.strip()
    if len(note) > NOTE_MAX:
        _fail({"note": [f"At most {NOTE_MAX} characters."]})
    _rules_checked(
        kind=spec.kind,
        tiers=spec.tiers,
        cap_minor=spec.cap_minor,
        budget_minor=spec.budget_minor,
        budget_policy=spec.budget_policy,
    )
    locked = IncentiveProgram.objects.select_for_update().get(pk=program.pk)
    if locked.versions.filter(effective_from=starts).exists():
        raise Conflict(
            "Another version of this program starts at that moment; choose another.",
            extra={"fields": {"effective_from": ["Another version starts at this moment."]}},
        )
    number = (locked.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = IncentiveVersion.objects.create(
        program=locked,
        number=number,
        effective_from=starts,
        kind=spec.kind,
        tiers=[dict(tier) for tier in spec.tiers],
        cap_minor=spec.cap_minor,
        budget_minor=spec.budget_minor,
        budget_policy=spec.budget_policy,
        note=note,
        created_at=now,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="incentives.version_add",
        target=version,
        after={
            "program": locked.pk,
            "number": number,
            "effective_from": starts,
            "kind": spec.kind,
            "tiers": [dict(tier) for tier in spec.tiers],
            "cap_minor": spec.cap_minor,
            "budget_minor": spec.budget_minor,
            "budget_policy": spec.budget_policy,
            "note": note,
        },
    )
    return version


def version_rules(version: IncentiveVersion) -> Rules:
    return rules_of(
        kind=version.kind,
        tiers=version.tiers,
        cap_minor=version.cap_minor,
        budget_minor=version.budget_minor,
        budget_policy=version.budget_policy,
    )


def _figures_record(
    person: PersonFigures, result: Award, program: IncentiveProgram
) -> dict[str, Any]:
    """What a bonus line keeps of the figures: every count and measure the tiers read, and each
    threshold checked (so the person sees why)."""
    counters = person.counters
    figures = person.figures
    labels = {name: label for name, label, _ in THRESHOLDS}
    return {
        "currency": program.currency,
        "final_tasks": figures.final_tasks,
        "active_seconds": figures.active_seconds,
        "gold_scored": counters.gold_scored,
        "gold_accuracy_low_ppm": figures.gold_low_ppm,
        "reviews": counters.reviews,
        "review_pass_rate_ppm": figures.review_pass_ppm,
        "agreement_count": counters.agreement_count,
        "agreement_ppm": figures.agreement_ppm,
        "earnings_minor": figures.earnings_minor,
        "checks": [
            {
                "threshold": check.threshold,
                "label": labels[check.threshold],
                "required": check.required,
                "actual": check.actual,
                "met": check.met,
            }
            for check in result.checks
        ],
    }


# --- The period's bounds and checks ----------------------------------------------------------


def _period_of(program: IncentiveProgram, starts_at: datetime) -> tuple[datetime, datetime]:
    if timezone.is_naive(starts_at):
        _fail({"period_start": ["Give the moment with its time zone."]})
    starts, ends = period_bounds(program.period, starts_at)
    if starts != starts_at:
        _fail(
            {
                "period_start": [
                    f"A {program.get_period_display().lower()} period starts at "
                    f"{starts:%Y-%m-%d %H:%M} UTC, not at {starts_at:%Y-%m-%d %H:%M}."
                ]
            }
        )
    return starts, ends


def _version_of(program: IncentiveProgram, ends_at: datetime) -> IncentiveVersion:
    version = incentive_version_for_period(program, ends_at)
    if version is None:
        raise Conflict(
            "No version of this program is in force in that period.",
            extra={"fields": {"period_start": ["The program had not started then."]}},
        )
    return version


# --- Preview ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    user_id: int
    figures: dict[str, Any]
    tier: int | None
    computed_minor: int
    capped_minor: int
    amount_minor: int


@dataclass(frozen=True)
class Preview:
    program: IncentiveProgram
    version: IncentiveVersion
    starts_at: datetime
    ends_at: datetime
    lines: list[PreviewLine]
    total_before_budget_minor: int
    total_minor: int

    @property
    def budget_minor(self) -> int | None:
        return self.version.budget_minor

    @property
    def rewarded(self) -> list[PreviewLine]:
        return [line for line in self.lines if line.capped_minor > 0]

    def money(self, minor: int) -> Minor:
        return Minor(minor, self.program.currency)


def incentive_period_preview(
    *, program: IncentiveProgram, starts_at: datetime, batch_size: int = DEFAULT_BATCH
) -> Preview:
    """Who would get what in the period if it closed now, and the total against the budget:
    the same figures, formula and budget functions the close uses. Writes nothing. Raises
    ValidationFailed (`period_start` not a period's start) and Conflict (no version then)."""
    starts, ends = _period_of(program, starts_at)
    version = _version_of(program, ends)
    rules = version_rules(version)
    lines: list[PreviewLine] = []
    ranked: list[Ranked] = []
    for batch in incentive_people_batches(program, starts, ends, batch_size=batch_size):
        for person in incentive_figures(program, starts, ends, batch):
            result = award(rules, person.figures)
            lines.append(
                PreviewLine(
                    user_id=person.user_id,
                    figures=_figures_record(person, result, program),
                    tier=result.tier,
                    computed_minor=result.computed_minor,
                    capped_minor=result.capped_minor,
                    amount_minor=0,
                )
            )
            ranked.append(
                Ranked(
                    person.user_id,
                    result.capped_minor,
                    rank_key(
                        tier=result.tier,
                        final_tasks=person.figures.final_tasks,
                        user_id=person.user_id,
                    ),
                )
            )
    paid = budget_apply(rules, ranked)
    lines = [PreviewLine(**{**line.__dict__, "amount_minor": paid[line.user_id]}) for line in lines]
    return Preview(
        program=program,
        version=version,
        starts_at=starts,
        ends_at=ends,
        lines=lines,
        total_before_budget_minor=sum(line.capped_minor for line in lines),
        total_minor=sum(line.amount_minor for line in lines),
    )


# --- Close -----------------------------------------------------------------------------------


@transaction.atomic
def incentive_period_close_start(
    *,
    program: IncentiveProgram,
    starts_at: datetime,
    actor: User | None,
    now: datetime | None = None,
) -> IncentivePeriod:
    """Open the close of a period that has ended and whose figures are complete, and queue the
    Celery job that closes it (on commit). A period already closing or closed is returned as it
    is (a second close posts nothing), and the job is queued again only to resume one still
    closing. Finance only, with MFA. Raises ValidationFailed (`period_start`) and Conflict (the
    period has not ended, its figures are not rolled up yet, or no version covers it)."""
    _require_finance(actor)
    now = now or timezone.now()
    starts, ends = _period_of(program, starts_at)
    existing = IncentivePeriod.objects.filter(program=program, starts_at=starts).first()
    if existing is not None:
        if existing.status == IncentivePeriodStatus.CLOSING:
            transaction.on_commit(lambda: job_enqueue(INCENTIVE_CLOSE_TASK, existing.pk))
        return existing
    if ends > now:
        raise Conflict(
            f"This period ends at {ends:%Y-%m-%d %H:%M} UTC; it closes after that.",
            extra={"fields": {"period_start": ["The period has not ended yet."]}},
        )
    watermark = rollups_until()
    if watermark is None or watermark < ends:
        shown = f"{watermark:%Y-%m-%d %H:%M} UTC" if watermark else "never run"
        raise Conflict(
            f"The measures of this period are not complete yet (rolled up until {shown}); "
            "the period closes once they are.",
            code="figures_incomplete",
        )
    version = _version_of(program, ends)
    try:
        with transaction.atomic():
            period = IncentivePeriod.objects.create(
                program=program,
                version=version,
                starts_at=starts,
                ends_at=ends,
                people_total=incentive_people_count(program, starts, ends),
                started_at=now,
                started_by=actor,
            )
    except IntegrityError:
        # Started meanwhile by the beat task or another finance user.
        return IncentivePeriod.objects.get(program=program, starts_at=starts)
    audit_record(
        actor=actor,
        action="incentives.period_close_start",
        target=period,
        after={
            "program": program.pk,
            "version": version.pk,
            "starts_at": starts,
            "ends_at": ends,
            "people": period.people_total,
        },
    )
    transaction.on_commit(lambda: job_enqueue(INCENTIVE_CLOSE_TASK, period.pk))
    return period


@transaction.atomic
def _judge_batch(*, period_id: int, user_ids: Sequence[int]) -> None:
    period = incentive_period_lock(period_id)
    program = period.program
    rules = version_rules(period.version)
    lines = []
    for person in incentive_figures(program, period.starts_at, period.ends_at, user_ids):
        result = award(rules, person.figures)
        tier_rank, tasks_rank, _ = rank_key(
            tier=result.tier, final_tasks=person.figures.final_tasks, user_id=person.user_id
        )
        lines.append(
            IncentiveBonusLine(
                period=period,
                user_id=person.user_id,
                version=period.version,
                figures=_figures_record(person, result, program),
                tier=result.tier,
                computed_minor=result.computed_minor,
                capped_minor=result.capped_minor,
                rank_tier=tier_rank,
                rank_final_tasks=tasks_rank,
            )
        )
    IncentiveBonusLine.objects.bulk_create(lines, ignore_conflicts=True)
    IncentivePeriod.objects.filter(pk=period.pk).update(
        people_done=IncentiveBonusLine.objects.filter(period=period).count()
    )


@transaction.atomic
def _judging_done(*, period_id: int) -> None:
    period = incentive_period_lock(period_id)
    lines = IncentiveBonusLine.objects.filter(period=period)
    total = lines.aggregate(total=Sum("capped_minor"))["total"] or 0
    count = lines.count()
    IncentivePeriod.objects.filter(pk=period.pk).update(
        lines_computed=True,
        awarded_before_budget_minor=total,
        people_total=count,
        people_done=count,
    )


def _bonus_post(
    line: IncentiveBonusLine,
    amount: int,
    period: IncentivePeriod,
    payable: LedgerAccount,
    expense: LedgerAccount,
) -> LedgerTransaction:
    """Post the line's bonus of `amount` minor units: the person's payable +, bonus expense -."""
    currency = period.program.currency
    money = Minor(amount, currency).to_micros()
    return ledger_post(
        source_key=bonus_source_key(
            version_id=period.version_id, starts_at=period.starts_at, user_id=line.user_id
        ),
        legs=[
            Leg(account=payable, amount=money),
            Leg(account=expense, amount=Micros(-money.amount, currency)),
        ],
        actor=None,
        memo=f"Bonus of {period.program.name} for the period from {period.starts_at:%Y-%m-%d}"[
            :500
        ],
        at=period.ends_at,
        # The bonus line is the posting's record (the figures, the tier, the version, the
        # amount and this transaction), and the close is audited; no copy per person.
        audited=False,
    )


@transaction.atomic
def _post_batch(*, period_id: int, batch_size: int) -> int:
    """Assign and post the next batch of lines (in the stop order); return how many. The
    period's lock (taken first) keeps any other close of it out until the batch commits."""
    period = incentive_period_lock(period_id)
    version = period.version
    lines = IncentiveBonusLine.objects.filter(period=period)
    todo = list(
        lines.filter(amount_minor__isnull=True).order_by(
            "rank_tier", "rank_final_tasks", "user_id"
        )[:batch_size]
    )
    spent = lines.filter(amount_minor__isnull=False).aggregate(s=Sum("amount_minor"))["s"] or 0
    currency = period.program.currency
    expense = ledger_account_get_or_create(kind=AccountKind.BONUS_EXPENSE, currency=currency)
    amounts = []
    for line in todo:
        if version.budget_minor is None:
            amount = line.capped_minor
        elif version.budget_policy == BudgetPolicy.SCALE:
            amount = budget_scaled(
                line.capped_minor,
                budget_minor=version.budget_minor,
                total_minor=period.awarded_before_budget_minor,
            )
        else:
            amount = budget_stopped(
                line.capped_minor, budget_minor=version.budget_minor, spent_before_minor=spent
            )
        amounts.append(amount)
        spent += amount
    payables = ledger_person_accounts_get_or_create(
        kind=AccountKind.PAYABLE,
        currency=currency,
        user_ids=[line.user_id for line, amount in zip(todo, amounts, strict=True) if amount > 0],
    )
    for line, amount in zip(todo, amounts, strict=True):
        line.amount_minor = amount
        if amount > 0:
            line.transaction = _bonus_post(line, amount, period, payables[line.user_id], expense)
    IncentiveBonusLine.objects.bulk_update(todo, ["amount_minor", "transaction"])
    IncentivePeriod.objects.filter(pk=period.pk).update(
        lines_posted=lines.filter(amount_minor__isnull=False).count()
    )
    return len(todo)


@transaction.atomic
def _close_done(*, period_id: int, now: datetime) -> IncentivePeriod:
    period = incentive_period_lock(period_id)
    if period.status == IncentivePeriodStatus.CLOSED:
        return period  # another worker finished it first
    paid = (
        IncentiveBonusLine.objects.filter(period=period).aggregate(s=Sum("amount_minor"))["s"] or 0
    )
    IncentivePeriod.objects.filter(pk=period.pk).update(
        status=IncentivePeriodStatus.CLOSED, paid_minor=paid, closed_at=now
    )
    period.refresh_from_db()
    audit_record(
        actor=None,
        action="incentives.period_closed",
        target=period,
        after={
            "program": period.program_id,
            "version": period.version_id,
            "people": period.people_total,
            "awarded_before_budget_minor": period.awarded_before_budget_minor,
            "paid_minor": paid,
            "currency": period.program.currency,
        },
    )
    return period


def incentive_period_close_run(
    *, period_id: int, batch_size: int = DEFAULT_BATCH, now: datetime | None = None
) -> IncentivePeriod:
    """Close a period opened by `incentive_period_close_start`, batch by batch (each batch its
    own transaction, progress kept on the period row); resume a close that stopped midway; do
    nothing to a closed one. Called by the Celery job; safe to run twice, even at once (each
    batch locks the period row, and every posting has its source key)."""
    period = IncentivePeriod.objects.select_related("program", "version").get(pk=period_id)
    if period.status == IncentivePeriodStatus.CLOSED:
        return period
    # The planner's statistics of what the close reads in bulk, refreshed when stale (as
    # autovacuum would, where it runs; core/table_statistics.py): the rollups of the period's
    # hours, the ledger's accruals and the scope's teams; then the lines the judging wrote.
    tables_analyze_stale(
        [PersonHour, LedgerEntry, LedgerTransaction, LedgerAccount, EarningDay, TeamMembership],
        purpose=f"before closing incentive period {period.pk}",
    )
    if not period.lines_computed:
        last = (
            IncentiveBonusLine.objects.filter(period=period).aggregate(m=Max("user_id"))["m"] or 0
        )
        for batch in incentive_people_batches(
            period.program,
            period.starts_at,
            period.ends_at,
            after_user_id=last,
            batch_size=batch_size,
        ):
            _judge_batch(period_id=period.pk, user_ids=batch)
        _judging_done(period_id=period.pk)
        tables_analyze_stale(
            [IncentiveBonusLine],
            purpose=f"after judging incentive period {period.pk}",
            changed={IncentiveBonusLine: IncentiveBonusLine.objects.filter(period=period).count()},
        )
    while _post_batch(period_id=period.pk, batch_size=batch_size):
        pass
    return _close_done(period_id=period.pk, now=now or timezone.now())


def incentive_period_close(
    *,
    program: IncentiveProgram,
    starts_at: datetime,
    actor: User | None,
    batch_size: int = DEFAULT_BATCH,
    now: datetime | None = None,
) -> IncentivePeriod:
    """Start and run the close of a period in this process (management commands, tests; the
    pages and the API start it and let the Celery job run it)."""
    period = incentive_period_close_start(
        program=program, starts_at=starts_at, actor=actor, now=now
    )
    if period.status == IncentivePeriodStatus.CLOSED:
        return period
    return incentive_period_close_run(period_id=period.pk, batch_size=batch_size, now=now)


__all__ = [
    "INCENTIVE_CLOSE_TASK",
    "Preview",
    "PreviewLine",
    "VersionSpec",
    "incentive_period_close",
    "incentive_period_close_run",
    "incentive_period_close_start",
    "incentive_period_preview",
    "incentive_program_create",
    "incentive_version_add",
    "version_rules",
]
