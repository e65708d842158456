from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payments.selectors.ledger import ledger_reconciliation


class Command(BaseCommand):
    help = (
        "Recompute every ledger balance and every transaction's net per currency from the "
        "entries; print each difference and fail when there is one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_reconciliation()
        for line in report.lines():
            self.stderr.write(line)
        summary = (
            f"{report.accounts_checked} accounts, {report.transactions_checked} transactions, "
            f"{len(report.lines())} differences"
        )
        if not report.is_clean:
            raise CommandError(f"The ledger does not reconcile: {summary}.")
        self.stdout.write(f"The ledger reconciles: {summary}.")
