"""Reconciliation: every balance recomputed from the entries, every difference reported."""

import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from payments.models import LedgerAccount
from payments.selectors.ledger import ledger_reconciliation
from payments.tasks import ledger_reconcile
from tests.payments.factories import accrue, pending_of

pytestmark = pytest.mark.django_db


def test_a_clean_ledger_reconciles(person, project, capsys):
    accrue(person, project, 3_500, "annotation:1")

    report = ledger_reconciliation()
    call_command("ledger_reconcile")

    assert report.is_clean and report.accounts_checked == 2 and report.transactions_checked == 1
    assert "reconciles" in capsys.readouterr().out


def test_a_corrupted_balance_is_reported_by_the_job_and_the_command(person, project, caplog):
    accrue(person, project, 3_500, "annotation:1")
    account = pending_of(person)
    LedgerAccount.objects.filter(pk=account.pk).update(balance_micros=3_501)  # the corruption

    report = ledger_reconciliation()
    with caplog.at_level(logging.ERROR, logger="payments.tasks"):
        differences = ledger_reconcile.delay().get()

    assert [
        (d.account_id, d.stored_micros, d.from_entries_micros) for d in report.balance_differences
    ] == [(account.pk, 3_501, 3_500)]
    assert differences == 1
    assert account.key in caplog.text
    with pytest.raises(CommandError, match="does not reconcile"):
        call_command("ledger_reconcile")


def test_a_transaction_that_does_not_net_to_zero_is_reported(person, project):
    posted = accrue(person, project, 3_500, "annotation:1")
    entry = posted.entries.get(account=pending_of(person))
    with connection.cursor() as cursor:  # bypass the append-only guard, as corruption would
        cursor.execute(
            "UPDATE payments_ledgerentry SET amount_micros = 3600 WHERE id = %s", [entry.pk]
        )

    report = ledger_reconciliation()

    assert [
        (t.transaction_id, t.currency, t.net_micros) for t in report.unbalanced_transactions
    ] == [(posted.pk, "USD", 100)]
    assert any("nets +100 micros of USD" in line for line in report.lines())
