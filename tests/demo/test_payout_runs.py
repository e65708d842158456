"""The demo's bank-file payouts end to end, as `make run` leaves them: after the whole demo seed, a
EUR run created by finance@ and approved by finance2@ pays lead@ and priya@ (nobody of them held
or excluded), its CSV and SEPA file download with the demo's debtor, and the bank's report
settles it; seeding again adds nothing."""

import pytest

from accounts.models import User
from demo.payout_runs import DEMO_PAYABLE, demo_payout_runs_seed
from demo.services import demo_seed
from payments.models import PayoutRunStatus
from payments.selectors.ledger import ledger_reconciliation
from payments.services.bank_file_runs import payout_run_bank_file, payout_run_bank_results_apply
from payments.services.payout_runs import payout_run_approve
from tests.payments.bank_file_runs.helpers import report
from tests.payments.payout_runs.helpers import committed, create_run

pytestmark = pytest.mark.django_db


def test_the_demo_pays_its_bank_file_people_from_file_to_report(settings):
    settings.QUORUM_BANK_FILE_DEBTOR_NAME = "Quorum Demo Payouts"
    settings.QUORUM_BANK_FILE_DEBTOR_IBAN = "DE02120300000000202051"
    settings.QUORUM_BANK_FILE_DEBTOR_BIC = "BYLADEM1001"
    demo_seed()
    creator = User.objects.get(email="finance@demo.quorum")
    approver = User.objects.get(email="finance2@demo.quorum")

    again = demo_payout_runs_seed()
    run = create_run(creator)
    committed(payout_run_approve, run_id=run.pk, actor=approver)
    csv_file = payout_run_bank_file(run=run, actor=approver, fmt="csv")
    sepa = payout_run_bank_file(run=run, actor=approver, fmt="pain001")
    lines = [f"{item.pk},paid," for item in run.items.order_by("pk")]
    committed(payout_run_bank_results_apply, run=run, actor=creator, data=report(*lines))

    assert again == []
    assert {i.person.email: i.amount_minor for i in run.items.all()} == {
        "lead@demo.quorum": DEMO_PAYABLE["lead@demo.quorum"][0],
        "priya@demo.quorum": DEMO_PAYABLE["priya@demo.quorum"][0],
    }
    assert csv_file.item_count == sepa.item_count == 2
    assert b"Priya Nair" in sepa.content
    run.refresh_from_db()
    assert run.status == PayoutRunStatus.DONE
    assert set(run.items.values_list("status", flat=True)) == {"succeeded"}
    assert ledger_reconciliation().is_clean
