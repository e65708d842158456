"""Celery tasks of payments (Celery's autodiscovery imports this module)."""

from __future__ import annotations

import logging

from celery import shared_task

from payments.selectors.ledger import ledger_reconciliation

logger = logging.getLogger(__name__)


@shared_task(name="payments.tasks.ledger_reconcile", ignore_result=True)
def ledger_reconcile() -> int:
    """Recompute balances and transaction nets from the entries (daily beat); log each
    difference as an error and return how many there are. Reads only: safe to run twice."""
    report = ledger_reconciliation()
    for line in report.lines():
        logger.error("ledger reconciliation: %s", line)
    logger.info(
        "ledger reconciliation: %d accounts, %d transactions, %d differences",
        report.accounts_checked,
        report.transactions_checked,
        len(report.lines()),
    )
    return len(report.lines())
