"""The demo's bank-file payouts end to end: seeded once, a EUR run by finance@ approved by
finance2@ pays lead@ and lucia@, its CSV and SEPA file download with the demo's debtor, and the
bank's report settles it."""

import pytest

from accounts.models import Role
from demo.payout_accounts import demo_payout_accounts_seed
from demo.payout_runs import DEMO_PAYABLE, demo_payout_runs_seed
from payments.models import PayoutRunStatus
from payments.selectors.ledger import ledger_reconciliation
from payments.services.bank_file_runs import payout_run_bank_file, payout_run_bank_results_apply
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.bank_file_runs.helpers import approved_run, report
from tests.payments.payout_runs.helpers import committed

pytestmark = pytest.mark.django_db


def test_the_demo_pays_its_bank_file_people_from_file_to_report(settings):
    settings.QUORUM_BANK_FILE_DEBTOR_NAME = "Quorum Demo Payouts"
    settings.QUORUM_BANK_FILE_DEBTOR_IBAN = "DE02120300000000202051"
    settings.QUORUM_BANK_FILE_DEBTOR_BIC = "BYLADEM1001"
    make_project()
    for email in ["lead@demo.quorum", "lucia@demo.quorum", "annotator@demo.quorum"]:
        make_user(Role.ANNOTATOR, email=email)
    demo_payout_accounts_seed()

    first = demo_payout_runs_seed()
    again = demo_payout_runs_seed()
    run = approved_run(make_user(Role.FINANCE, mfa=True), make_user(Role.FINANCE, mfa=True))
    csv_file = payout_run_bank_file(run=run, actor=run.created_by, fmt="csv")
    sepa = payout_run_bank_file(run=run, actor=run.created_by, fmt="pain001")
    lines = [f"{item.pk},paid," for item in run.items.order_by("pk")]
    committed(payout_run_bank_results_apply, run=run, actor=run.created_by, data=report(*lines))

    assert len(first) == 4 and again == []
    assert {i.person.email: i.amount_minor for i in run.items.all()} == {
        "lead@demo.quorum": DEMO_PAYABLE["lead@demo.quorum"][0],
        "lucia@demo.quorum": DEMO_PAYABLE["lucia@demo.quorum"][0],
    }
    assert csv_file.item_count == sepa.item_count == 2
    assert b"Lucia Fernandez" in sepa.content  # SEPA's character set
    run.refresh_from_db()
    assert run.status == PayoutRunStatus.DONE
    assert set(run.items.values_list("status", flat=True)) == {"succeeded"}
    assert ledger_reconciliation().is_clean
