"""Reads of earnings: the rate that prices a piece of work on the hot path, and scoped lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet

from core.statements import named_placeholders, queryset_compiled, statement_rows_prepared
from kit.money import Micros
from labeling.models import Project
from payments.lock_objects import (
    PERSON_PAY_LOCK_OF_EARNINGS,
    PERSON_PAY_LOCK_OF_EARNINGS_AND_WORKER,
    PERSON_PAY_ROW_COLUMNS,
    PersonPayLocked,
    person_pay_locked_of_rows,
)
from payments.models import Earning, EarningStatus, Rate, RateCardVersion, RateUnit, WorkKind
from payments.selectors.holds import hold_cause_from, hold_cause_reads, with_hold_causes
from payments.selectors.rates import (
    PRICING_ARGUMENTS,
    PRICING_FROM,
    PRICING_ORDER,
    PRICING_SELECT,
    PRICING_WITH,
    UNPAID_UNLESS_TRAINING_PAID,
    Finalising,
    PricingContext,
    RateMatch,
    model_values_converted,
    pricing_of_rows,
    pricing_values,
    rate_best,
    training_time_is_paid,
    work_profile_of,
)


def project_for_pricing(project_id: int) -> Project | None:
    """The project fields pricing and memos need (one query), or None."""
    return (
        Project.objects.only("id", "name", "customer_id", "required_skill_id")
        .filter(pk=project_id)
        .first()
    )


def rate_for_work(
    *,
    project: Project,
    version: RateCardVersion,
    user: Any,
    work_kind: str,
    review_level: int,
    rates: list[Rate] | None = None,
) -> RateMatch | None:
    """`rate_lookup`'s answer for this work once the version in force is known (same
    specificity order), reading the person's tier and skill level only when a rate of that kind
    depends on them. `rates`: the version's rates of `work_kind` when already read (then no
    query when no rate depends on the person, as on most cards); else one query reads them."""
    if work_kind in UNPAID_UNLESS_TRAINING_PAID and not training_time_is_paid():
        return None
    if rates is None:
        rates = list(version.rates.filter(work_kind=work_kind))
    if not rates:
        return None
    work = work_profile_of(
        project=project,
        person=user,
        work_kind=work_kind,
        review_level=review_level,
        tier=None if any(rate.tier for rate in rates) else "",
        skill_level=None if any(rate.min_skill_level for rate in rates) else 0,
    )
    rate = rate_best(rates, work)
    if rate is None:
        return None
    return RateMatch(
        rate=rate,
        version=version,
        amount=Micros(rate.amount_micros, version.currency),
        unit=RateUnit(rate.unit),
    )


def earnings_of_task_to_finalise(*, task_id: int) -> QuerySet[Earning]:
    """The task's pending per-task earnings, locked, ascending (call inside a transaction)."""
    return (
        Earning.objects.select_for_update(of=("self",))
        .filter(task_id=task_id, status=EarningStatus.PENDING, unit=RateUnit.PER_TASK)
        .order_by("pk")
    )


def with_project_name(earnings: QuerySet[Earning]) -> QuerySet[Earning]:
    """Each earning with `project_name` (for memos), in the same query."""
    return earnings.annotate(project_name=F("project__name"))


# The read of a task's earnings to finalise runs in every submit that makes a task final: building
# it with the ORM costs several times the statement, so it is compiled once, with a stand-in for
# the task, and PREPAREd on each connection (core.statements) on PostgreSQL.
_TASK = 9_100_000_000_000_000_101
_TASK_ARGUMENTS = {"task": "bigint"}
_EARNING_COLUMNS = [f.attname for f in Earning._meta.concrete_fields]
_compiled_task_read: list[tuple[str, tuple[tuple[str | None, Any], ...]]] = []


def _task_read() -> tuple[str, tuple[tuple[str | None, Any], ...]]:
    if not _compiled_task_read:
        sql, named = queryset_compiled(
            with_project_name(with_hold_causes(earnings_of_task_to_finalise(task_id=_TASK))),
            {_TASK: "task"},
        )
        # The earnings first (their rows locked by the read), then their people's pay, locked in
        # the order of payments/lock_objects.py and carried on every row (the same few rows).
        sql = (
            f"WITH e AS MATERIALIZED ({sql}),\n"  # noqa: S608  (the compiled read and constant SQL)
            f"p AS MATERIALIZED ({PERSON_PAY_LOCK_OF_EARNINGS})\n"
            "SELECT e.*, (SELECT json_agg(p ORDER BY p.id) FROM p) AS pay_locks FROM e "
            "ORDER BY e.id"
        )
        _compiled_task_read.append((sql, named))
    return _compiled_task_read[0]


def earnings_to_finalise_with_hold_causes(
    *, task_id: int
) -> tuple[list[Earning], dict[tuple[int, str], PersonPayLocked]]:
    """The task's pending per-task earnings, locked, ascending, each annotated as by
    `with_hold_causes` and `with_project_name`, and the pay of their people locked with them
    (`person_pay_lock` for each person and currency, after the earnings: the order of
    payments/lock_objects.py), by (user id, currency): for those whose pending and payable
    accounts and remainder exist. Call inside a transaction. One prepared statement on
    PostgreSQL; elsewhere no pay is locked here (the move to payable locks it)."""
    if connection.vendor != "postgresql":
        earnings = list(
            with_project_name(with_hold_causes(earnings_of_task_to_finalise(task_id=task_id)))
        )
        return earnings, {}
    sql, params = _task_read()
    rows = statement_rows_prepared(
        sql, params, arguments=_TASK_ARGUMENTS, values={"task": task_id}, owner="payments"
    )
    earnings = []
    for row in rows:
        values = list(row.values())
        earning = Earning.from_db(
            connection.alias,
            _EARNING_COLUMNS,
            model_values_converted(Earning, values[: len(_EARNING_COLUMNS)]),
        )
        earning.person_suspended = row["person_suspended"]  # type: ignore[attr-defined]
        earning.person_appealing = row["person_appealing"]  # type: ignore[attr-defined]
        earning.dispute_reason = row["dispute_reason"]  # type: ignore[attr-defined]
        earning.project_name = row["project_name"]  # type: ignore[attr-defined]
        earnings.append(earning)
    locks = rows[0]["pay_locks"] if rows else None
    pay = person_pay_locked_of_rows(
        [[lock[column] for column in PERSON_PAY_ROW_COLUMNS] for lock in locks or []]
    )
    return earnings, pay


_USER = 9_100_000_000_000_000_103
_compiled_final_pricing: list[tuple[str, tuple[tuple[str | None, Any], ...]]] = []
_FINAL_PRICING_ARGUMENTS = {**PRICING_ARGUMENTS, "task": "bigint"}


def _final_pricing_read() -> tuple[str, tuple[tuple[str | None, Any], ...]]:
    """The pricing read (`pricing_context`) of work that makes its task final, with, in the
    same statement and in the lock order of payments/lock_objects.py: the task's pending
    earnings locked (`e`, as the task's read to finalise takes them), the pay of their people
    and of the person locked, what would hold the work (`with_hold_causes`' reads) and the id
    its earning will take."""
    if not _compiled_final_pricing:
        pieces: list[tuple[str, tuple[tuple[str | None, Any], ...]]] = []

        def text(sql: str) -> None:
            pieces.append(named_placeholders(sql))

        text(PRICING_WITH + ",\ne AS MATERIALIZED (")
        pieces.append(
            queryset_compiled(earnings_of_task_to_finalise(task_id=_TASK), {_TASK: "task"})
        )
        text(
            f"),\npay AS MATERIALIZED ({PERSON_PAY_LOCK_OF_EARNINGS_AND_WORKER}),\n"  # noqa: S608  (constant SQL)
            "n AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('payments_earning', 'id'))"
            " AS id)\n"
            f"{PRICING_SELECT},\nEXISTS (SELECT 1 FROM e) AS f_others,\n"
            "(SELECT json_agg(pay ORDER BY pay.id) FROM pay) AS f_pay,\nEXISTS ("
        )
        suspended, appealing, dispute = hold_cause_reads(user_id=_USER, task_id=_TASK)
        pieces.append(queryset_compiled(suspended, {_USER: "user"}))
        text(") AS f_suspended,\nEXISTS (")
        pieces.append(queryset_compiled(appealing, {_USER: "user"}))
        text(") AS f_appealing,\n(")
        pieces.append(queryset_compiled(dispute, {_TASK: "task"}))
        text(f") AS f_dispute,\nn.id AS f_earning_id{PRICING_FROM}CROSS JOIN n\n{PRICING_ORDER}")
        sql = "".join(piece for piece, _ in pieces)
        params = tuple(param for _, named in pieces for param in named)
        _compiled_final_pricing.append((sql, params))
    return _compiled_final_pricing[0]


def pricing_to_finalise(
    *, project_id: int, user_id: int, work_kind: str, at: datetime, task_id: int
) -> PricingContext | None:
    """`pricing_context` for work that makes its task final, with what making it payable at
    once needs (`Finalising`), read and locked in the same statement: the task's other pending
    earnings and the pay of their people and of this person, before the accrual's posting takes
    anything. Call inside a transaction, on PostgreSQL. None when no card prices the project."""
    sql, params = _final_pricing_read()
    rows = statement_rows_prepared(
        sql,
        params,
        arguments=_FINAL_PRICING_ARGUMENTS,
        values={
            **pricing_values(project_id=project_id, user_id=user_id, work_kind=work_kind, at=at),
            "task": task_id,
        },
        owner="payments",
    )
    context = pricing_of_rows([tuple(row.values()) for row in rows], project_id=project_id)
    if context is None:
        return None
    first = rows[0]
    locks = first["f_pay"]
    pay = person_pay_locked_of_rows(
        [[lock[column] for column in PERSON_PAY_ROW_COLUMNS] for lock in locks or []]
    ).get((user_id, context.version.currency))
    finalising = Finalising(
        others_pending=bool(first["f_others"]),
        pay=pay,
        hold=hold_cause_from(
            user_id=user_id,
            task_id=task_id,
            suspended=bool(first["f_suspended"]),
            appealing=bool(first["f_appealing"]),
            dispute_reason=first["f_dispute"],
        ),
        earning_id=int(first["f_earning_id"]),
    )
    return replace(context, finalising=finalising)


def earning_get_for_update(*, pk: int) -> Earning:
    """Lock and return one earning (Earning.DoesNotExist when there is none)."""
    return Earning.objects.select_for_update().get(pk=pk)


def earning_of_source(*, annotation_id: int | None = None, review_id: int | None = None) -> Any:
    """The per-task earning of an annotation (without a review) or of a review verdict, or None."""
    if review_id is not None:
        return Earning.objects.filter(review_id=review_id).first()
    return Earning.objects.filter(annotation_id=annotation_id, review_id__isnull=True).first()


def earnings_of(*, user: Any) -> QuerySet[Earning]:
    """The person's own earnings, newest first, with their project."""
    return Earning.objects.filter(user_id=user.pk).select_related("project")


def work_kind_of(kind: str) -> str:
    """The rate card's work kind for labeling's kind of submission."""
    return WorkKind.REVIEW if kind == "review" else WorkKind.ANNOTATION
