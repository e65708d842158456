"""The bank's report uploaded by two finance users at once, on PostgreSQL with real threads: the
run's lock makes one apply it and the other see repeats; every item is settled once."""

from __future__ import annotations

import pytest

from payments.models import LedgerTransaction, PayoutItemStatus, PayoutRunStatus
from payments.services.bank_file_runs import BankResultsApplied, payout_run_bank_results_apply
from tests.payments.bank_file_runs.helpers import approved_run, report
from tests.payments.payout_runs.helpers import (
    IN_TRANSIT,
    PAID,
    PAYABLE,
    assert_ledger_clean,
    balance_minor,
    bank_person,
    finance_user,
)
from tests.payments.payout_runs.test_concurrency import at_once
from workforce.models import Notification

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_report_uploaded_twice_at_once_settles_each_item_once(project):
    ok, bad = bank_person(project, 2_000), bank_person(project, 3_000)
    creator, approver = finance_user(), finance_user()
    run = approved_run(creator, approver)
    ok_item, bad_item = run.items.get(person=ok), run.items.get(person=bad)
    data = report(f"{ok_item.pk},paid,", f"{bad_item.pk},failed,Account closed")
    before = LedgerTransaction.objects.count()

    results = at_once(
        2,
        lambda: payout_run_bank_results_apply(run=run, actor=approver, data=data),
    )

    assert all(isinstance(r, BankResultsApplied) for r in results), results
    applied = sorted(len(r.paid) + len(r.failed) for r in results)
    repeated = sorted(len(r.repeated) for r in results)
    assert (applied, repeated) == ([0, 2], [0, 2])
    assert LedgerTransaction.objects.count() == before + 2
    assert (balance_minor(ok, PAID, "EUR"), balance_minor(ok, IN_TRANSIT, "EUR")) == (2_000, 0)
    assert (balance_minor(bad, PAYABLE, "EUR"), balance_minor(bad, IN_TRANSIT, "EUR")) == (3_000, 0)
    assert Notification.objects.filter(kind="payout").count() == 2
    assert set(run.items.values_list("status", flat=True)) == {
        PayoutItemStatus.SUCCEEDED,
        PayoutItemStatus.FAILED,
    }
    run.refresh_from_db()
    assert run.status == PayoutRunStatus.DONE
    assert_ledger_clean()
