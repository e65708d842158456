"""Demo incentive programs (idempotent): a weekly program for everyone that pays for quality and
throughput, changed last week (a second version), and a daily multiplier on one demo project,
so the finance pages show a running program with versions, a preview and closed periods.

The demo seed calls `incentives_demo_seed(customer=...)` after the hourly rollups are rebuilt;
periods that have ended and whose figures are rolled up are closed here, later ones by beat.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from core.errors import Conflict
from labeling.models import Customer, Project
from labeling.models.projects import ProjectPurpose
from payments.models import IncentiveProgram, IncentiveScope
from payments.selectors.incentives import incentive_periods_due
from payments.services.incentives import (
    VersionSpec,
    incentive_period_close,
    incentive_program_create,
    incentive_version_add,
)

WEEKLY = "Demo: quality week"
DAILY = "Demo: busy day multiplier"


def incentives_demo_seed(*, customer: Customer, now: datetime | None = None) -> list[str]:
    """Seed the demo's programs and close their due periods; return what was created."""
    now = now or timezone.now()
    created: list[str] = []
    if not IncentiveProgram.objects.filter(name=WEEKLY).exists():
        weekly = incentive_program_create(
            actor=None,
            name=WEEKLY,
            scope=IncentiveScope.EVERYONE,
            period="week",
            currency="USD",
            first_version=VersionSpec(
                kind="bonus",
                tiers=[
                    {"reward": 500, "min_final_tasks": 5, "min_gold_low_ppm": 600_000},
                    {"reward": 1_500, "min_final_tasks": 20, "min_gold_low_ppm": 800_000},
                ],
                cap_minor=2_000,
                budget_minor=20_000,
                budget_policy="scale",
                note="Launch: bonuses for careful, steady work.",
            ),
            now=now - timedelta(days=28),
        )
        incentive_version_add(
            actor=None,
            program=weekly,
            spec=VersionSpec(
                kind="bonus",
                tiers=[
                    {"reward": 500, "min_final_tasks": 5, "min_review_pass_ppm": 800_000},
                    {"reward": 1_500, "min_final_tasks": 20, "min_gold_low_ppm": 800_000},
                ],
                cap_minor=2_000,
                budget_minor=20_000,
                budget_policy="scale",
                note="The first tier reads the review pass rate instead of gold.",
            ),
            now=now - timedelta(days=6),
        )
        created.append(f"incentive program {WEEKLY}")
    project = (
        Project.objects.filter(customer=customer, purpose=ProjectPurpose.WORK)
        .order_by("pk")
        .first()
    )
    if project is not None and not IncentiveProgram.objects.filter(name=DAILY).exists():
        incentive_program_create(
            actor=None,
            name=DAILY,
            scope=IncentiveScope.PROJECT,
            project=project,
            period="day",
            currency="USD",
            first_version=VersionSpec(
                kind="multiplier",
                tiers=[{"reward": 100_000, "min_final_tasks": 10, "min_agreement_ppm": 700_000}],
                cap_minor=1_000,
                note="+10% of the day's earnings on the project for 10 agreed final tasks.",
            ),
            now=now - timedelta(days=7),
        )
        created.append(f"incentive program {DAILY}")
    for due in incentive_periods_due(now=now):
        program = IncentiveProgram.objects.get(pk=due.program_id)
        try:
            incentive_period_close(program=program, starts_at=due.starts_at, actor=None, now=now)
        except Conflict:
            continue  # its figures are not complete yet: beat closes it later
    return created
