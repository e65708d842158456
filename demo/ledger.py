"""Demo data of the ledger (idempotent): the demo's submitted annotations earn a flat demo rate
into their authors' pending accounts, against each project's labour expense; work older than a
week is released to payable (rounded down, the remainder carried), and one earning is reversed
with a reason, so the finance explorer shows every kind of transaction.

Call `demo_ledger_seed(now=...)` after `demo_quality_seed` (it reads the annotations that seeds).
Work that a rate card priced has its own earning (payments.services.earnings) and is left alone
here; only work done before any card (older demo databases) gets this module's flat rate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from kit.money import Micros
from labeling.models import Annotation
from payments.models import AccountKind, Earning, LedgerTransaction
from payments.services.ledger import (
    Leg,
    ledger_account_get_or_create,
    ledger_post,
    ledger_release_to_payable,
    ledger_reverse,
)

DEMO_RATE_MICROS = 35_000  # 0.035 per annotation: sub-cent digits show the carried remainder
DEMO_ANNOTATIONS = 400


def demo_ledger_seed(*, now: datetime | None = None) -> list[str]:
    """Seed the ledger from the demo's annotations; return what was created, for seed_demo's report."""
    now = now or timezone.now()
    currency = str(settings.QUORUM_LEDGER_DEFAULT_CURRENCY)
    rate = Micros(DEMO_RATE_MICROS, currency)
    priced = Earning.objects.filter(annotation_id__isnull=False).values("annotation_id")
    annotations = list(
        Annotation.objects.exclude(pk__in=priced)
        .select_related("author", "project")
        .order_by("pk")[:DEMO_ANNOTATIONS]
    )
    posted = 0
    for annotation in annotations:
        key = f"demo:annotation:{annotation.pk}"
        if LedgerTransaction.objects.filter(source_key=key).exists():
            continue
        pending = ledger_account_get_or_create(
            kind=AccountKind.PENDING, currency=currency, user=annotation.author
        )
        expense = ledger_account_get_or_create(
            kind=AccountKind.LABOUR_EXPENSE_PROJECT, currency=currency, project=annotation.project
        )
        ledger_post(
            source_key=key,
            legs=[Leg(account=pending, amount=rate), Leg(account=expense, amount=-rate)],
            actor=None,
            memo=f"Demo earning: annotation {annotation.pk}",
            at=annotation.submitted_at,
        )
        posted += 1
    created = [f"{posted} demo earnings"] if posted else []
    first = (
        LedgerTransaction.objects.filter(source_key__startswith="demo:annotation:")
        .order_by("pk")
        .first()
    )
    if first is not None and not LedgerTransaction.objects.filter(reverses=first).exists():
        ledger_reverse(
            transaction=first, reason="Demo: the work was rejected in review.", actor=None
        )
        created.append("1 demo reversal")
    week = (now - timedelta(days=7)).date().isoformat()
    released = 0
    for author in {a.author for a in annotations if a.submitted_at < now - timedelta(days=7)}:
        key = f"demo:release:{author.pk}:{week}"
        if LedgerTransaction.objects.filter(source_key=key).exists():
            continue
        if ledger_release_to_payable(user=author, currency=currency, source_key=key, actor=None):
            released += 1
    if released:
        created.append(f"{released} demo releases to payable")
    return created
