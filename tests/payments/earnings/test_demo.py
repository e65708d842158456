"""The demo's work earns: rate cards come before the demo work, so the demo annotators have
pending and payable earnings, and the ledger reconciles."""

import pytest

from demo.services import demo_seed
from payments.models import Earning, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation

pytestmark = pytest.mark.django_db


def test_the_demo_annotators_have_pending_and_payable_earnings():
    demo_seed()

    statuses = set(
        Earning.objects.filter(user__email__endswith="@demo.quorum").values_list(
            "status", flat=True
        )
    )
    assert {"pending", "payable"} <= statuses
    assert Earning.objects.filter(work_kind="review").exists()
    # Priced work is never paid twice by the demo's flat-rate postings.
    priced = Earning.objects.filter(annotation_id__isnull=False).values_list(
        "annotation_id", flat=True
    )
    demo_keys = {f"demo:annotation:{pk}" for pk in priced}
    assert not LedgerTransaction.objects.filter(source_key__in=demo_keys).exists()
    assert ledger_reconciliation().is_clean
