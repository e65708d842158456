"""Demo rate cards (idempotent): a default card for the demo customer and a card of its own for
one of its work projects, with a history (a version four weeks old, a change last week and one
scheduled for next week), so the finance pages show every state a version can be in.

The lead's demo seed calls `rates_demo_seed(customer=...)` once the demo projects exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from labeling.models import Customer, Project
from labeling.models.projects import ProjectPurpose
from payments.models import RateCard, RateUnit, WorkKind
from payments.services.rates import RateSpec, rate_card_version_create

PER_TASK = RateUnit.PER_TASK
PER_HOUR = RateUnit.PER_HOUR

# The customer default: what every project of the customer without a card of its own pays.
DEFAULT_RATES = [
    RateSpec(WorkKind.ANNOTATION, PER_TASK, 35_000),  # 0.035 USD per final task
    RateSpec(WorkKind.REVIEW, PER_TASK, 20_000),  # 0.02 USD per review, any level
    RateSpec(WorkKind.TRAINING, PER_HOUR, 3_000_000),  # 3.00 USD per active hour (if paid)
    RateSpec(WorkKind.TEST, PER_HOUR, 3_000_000),
]


def _project_rates(annotation: int) -> list[RateSpec]:
    return [
        RateSpec(WorkKind.ANNOTATION, PER_TASK, annotation),
        RateSpec(WorkKind.ANNOTATION, PER_TASK, annotation + 10_000, min_skill_level=2),
        RateSpec(WorkKind.REVIEW, PER_TASK, 30_000, review_level=1),
        RateSpec(WorkKind.REVIEW, PER_TASK, 45_000, tier="reviewer-2"),
        RateSpec(WorkKind.REVIEW, PER_HOUR, 6_500_000, review_level=2),
    ]


def rates_demo_seed(*, customer: Customer, now: datetime | None = None) -> list[str]:
    """Seed the demo's rate cards; return what was created, for seed_demo's report."""
    now = now or timezone.now()
    created: list[str] = []
    if not RateCard.objects.filter(customer=customer, project__isnull=True).exists():
        rate_card_version_create(
            actor=None,
            customer=customer,
            currency="USD",
            rates=DEFAULT_RATES,
            note="Demo: launch rates for every project of the customer.",
            now=now - timedelta(days=28),
        )
        created.append(f"default rate card of {customer.name}")
    project = (
        Project.objects.filter(customer=customer, purpose=ProjectPurpose.WORK)
        .order_by("pk")
        .first()
    )
    if project is not None and not RateCard.objects.filter(project=project).exists():
        rate_card_version_create(
            actor=None,
            project=project,
            currency="USD",
            rates=_project_rates(50_000),
            note="Demo: harder task, higher rates.",
            now=now - timedelta(days=28),
        )
        rate_card_version_create(
            actor=None,
            project=project,
            currency="USD",
            rates=_project_rates(55_000),
            note="Demo: annotation up half a cent.",
            now=now - timedelta(days=7),
        )
        rate_card_version_create(
            actor=None,
            project=project,
            currency="USD",
            rates=_project_rates(60_000),
            note="Demo: next raise, scheduled.",
            effective_from=now + timedelta(days=7),
            now=now,
        )
        created.append(f"rate card of {project.name} (3 versions, one scheduled)")
    return created
