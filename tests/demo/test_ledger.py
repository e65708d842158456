"""The demo's ledger: earnings for the demo's annotations, posted once, and a ledger that reconciles."""

from datetime import timedelta

import pytest
from django.utils import timezone

from demo.ledger import DEMO_RATE_MICROS, demo_ledger_seed
from payments.models import LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker

pytestmark = pytest.mark.django_db


def test_demo_ledger_seed_posts_each_earning_once_and_reconciles():
    project = make_project()
    add_tasks(project, 3)
    worker = make_worker()
    for _ in range(3):
        annotate(project, worker)

    first = demo_ledger_seed(now=timezone.now() + timedelta(days=8))
    second = demo_ledger_seed(now=timezone.now() + timedelta(days=8))

    assert first == ["3 demo earnings", "1 demo reversal", "1 demo releases to payable"]
    assert second == []
    assert LedgerTransaction.objects.filter(source_key__startswith="demo:annotation:").count() == 3
    assert ledger_reconciliation().is_clean
    assert DEMO_RATE_MICROS % 10_000 != 0  # the demo shows a carried sub-cent remainder
