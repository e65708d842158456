"""Test data of incentive programs: hourly rollups (as quality's job writes them), the rollups'
watermark, accruals shaped as accrual posts them, and programs made through the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from accounts.models import User
from kit.money import Micros
from labeling.models import Project
from payments.models import IncentiveProgram, LedgerTransaction
from payments.services.incentives import VersionSpec, incentive_program_create
from payments.services.ledger import Leg, ledger_post
from quality.performance.definitions import MICROS
from quality.performance.models import PersonHour, RollupMark
from quality.performance.rollups import ROLLUP_NAME
from tests.payments.factories import expense_of, payable_of, pending_of
from workforce.models import Team

# A Monday: the week [WEEK, WEEK + 7 days) and its days.
WEEK = datetime(2026, 11, 2, tzinfo=UTC)
PROGRAM_START = WEEK - timedelta(days=14)


def work(
    user: User,
    project: Project,
    *,
    hour: datetime = WEEK + timedelta(hours=10),
    final_tasks: int = 0,
    active_seconds: int = 0,
    gold_scored: int = 0,
    gold_correct: int = 0,
    reviews_passed: int = 0,
    reviews_failed: int = 0,
    agreement_count: int = 0,
    agreement_micros: int = 0,
) -> PersonHour:
    """A person's hour of work as quality's rollup job stores it."""
    return PersonHour.objects.create(
        user=user,
        project=project,
        hour=hour,
        submissions=final_tasks,
        final_tasks=final_tasks,
        active_seconds=active_seconds,
        gold_scored=gold_scored,
        gold_score_micros=gold_correct * MICROS,
        reviews_passed=reviews_passed,
        reviews_failed=reviews_failed,
        agreement_count=agreement_count,
        agreement_micros=agreement_micros,
    )


def rolled_up_until(moment: datetime) -> None:
    """Quality's rollups are complete until `moment`."""
    RollupMark.objects.update_or_create(
        name=ROLLUP_NAME, defaults={"rolled_until": moment, "gold_fixed_until": moment}
    )


def accrual(
    user: User, project: Project, micros: int, key: str, at: datetime, currency: str = "USD"
) -> LedgerTransaction:
    """An accrual exactly as accrual posts it (person pending +X, project expense -X), at `at`."""
    return ledger_post(
        source_key=f"earning:accrue:{key}",
        legs=[
            Leg(account=pending_of(user, currency), amount=Micros(micros, currency)),
            Leg(account=expense_of(project, currency), amount=Micros(-micros, currency)),
        ],
        actor=None,
        at=at,
    )


def finalise(user: User, micros: int, key: str, at: datetime, currency: str = "USD") -> Any:
    """A finalisation as accrual posts it: pending -X, payable +X (whole minor units)."""
    return ledger_post(
        source_key=f"earning:final:{key}",
        legs=[
            Leg(account=pending_of(user, currency), amount=Micros(-micros, currency)),
            Leg(account=payable_of(user, currency), amount=Micros(micros, currency)),
        ],
        actor=None,
        at=at,
    )


def program(
    *,
    actor: User | None = None,
    tiers: list[dict[str, Any]] | None = None,
    kind: str = "bonus",
    scope: str = "everyone",
    project: Project | None = None,
    team: Team | None = None,
    period: str = "week",
    cap_minor: int | None = None,
    budget_minor: int | None = None,
    budget_policy: str = "scale",
    now: datetime = PROGRAM_START,
) -> IncentiveProgram:
    return incentive_program_create(
        actor=actor,
        name="Quality week",
        scope=scope,
        project=project,
        team=team,
        period=period,
        currency="USD",
        first_version=VersionSpec(
            kind=kind,
            tiers=tiers or [{"reward": 1_000, "min_final_tasks": 10}],
            cap_minor=cap_minor,
            budget_minor=budget_minor,
            budget_policy=budget_policy,
        ),
        now=now,
    )
