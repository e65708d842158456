"""Celery tasks of payments (Celery's autodiscovery imports this module)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from core.errors import NotFound
from payments.models import IncentiveProgram, StripeEvent, StripeEventStatus
from payments.selectors.incentives import incentive_periods_due
from payments.selectors.ledger import ledger_reconciliation
from payments.selectors.stripe_events import stripe_events_overdue
from payments.services import earning_days as earning_days_services
from payments.services import incentives as incentive_services
from payments.services import payout_runs as payout_run_services
from payments.services import stripe_events as stripe_event_services
from payments.services.earnings import earnings_hourly_finalise_due

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


# The sweep leaves an event alone for this long after it fell due, so that it does not race the
# message scheduled for it; it rescues events whose message was lost or whose worker died.
STRIPE_EVENTS_SWEEP_GRACE = timedelta(minutes=1)
STRIPE_EVENTS_SWEEP_BATCH = 500


@shared_task(name=stripe_event_services.STRIPE_EVENT_PROCESS_TASK, bind=True, ignore_result=True)
def stripe_event_process(self: Task[Any, Any], event_id: str, attempts: int | None = None) -> None:
    """Make the next attempt at processing a stored Stripe event; when it fails, schedule the
    retry for when it is due.

    `attempts` is how many attempts were made when this message was sent; a message that comes
    after another attempt was made anyway (a duplicate, a redelivery, the sweep) does nothing.
    """
    made = StripeEvent.objects.filter(pk=event_id).values_list("attempts", flat=True).first()
    if made is None or (attempts is not None and made != attempts):
        return
    try:
        event = stripe_event_services.stripe_event_process(event_id=event_id)
    except NotFound:
        return
    if (
        event.status != StripeEventStatus.PENDING
        or event.attempts != made + 1
        or event.next_attempt_at is None
    ):
        return  # processed, failed for good, or another worker's attempt schedules what follows
    countdown = max(0.0, (event.next_attempt_at - timezone.now()).total_seconds())
    self.apply_async(args=(event_id, event.attempts), countdown=countdown)


@shared_task(name="payments.tasks.stripe_events_due", ignore_result=True)
def stripe_events_due() -> int:
    """Queue pending Stripe events that are overdue (a lost message, a worker that died);
    return how many. Runs from the beat schedule every minute."""
    overdue = stripe_events_overdue(
        cutoff=timezone.now() - STRIPE_EVENTS_SWEEP_GRACE, limit=STRIPE_EVENTS_SWEEP_BATCH
    )
    for event_id, attempts in overdue:
        stripe_event_process.apply_async(args=(event_id, attempts))
    return len(overdue)


@shared_task(name="payments.tasks.earnings_hourly_finalise", ignore_result=True)
def earnings_hourly_finalise() -> int:
    """Make the active-time earnings of days before today payable (or held); return how many.
    Runs from the beat schedule every hour; safe to run twice (only pending ones move)."""
    return earnings_hourly_finalise_due(before=timezone.localdate())


@shared_task(name="payments.tasks.earning_days_roll", ignore_result=True)
def earning_days_roll() -> int:
    """Bring the daily rollup of earnings up to the ledger (beat, every 5 minutes); return the
    transaction id it holds entries through. Safe to run twice."""
    return earning_days_services.earning_days_roll().rolled_through_id


@shared_task(name="payments.tasks.incentive_period_close_run", ignore_result=True)
def incentive_period_close_run(period_id: int) -> None:
    """Close (or resume closing) one incentive period, batch by batch; a closed one is left as
    it is. Queued by `incentive_period_close_start` (the button, the API, the beat task)."""
    incentive_services.incentive_period_close_run(period_id=period_id)


@shared_task(name="payments.tasks.incentive_periods_close_due", ignore_result=True)
def incentive_periods_close_due() -> int:
    """Start closing every incentive period that has ended and whose figures are rolled up
    (beat, every 15 minutes); return how many were started or resumed."""
    started = 0
    for due in incentive_periods_due(now=timezone.now()):
        program = IncentiveProgram.objects.get(pk=due.program_id)
        incentive_services.incentive_period_close_start(
            program=program, starts_at=due.starts_at, actor=None
        )
        started += 1
    return started


# --- Payout runs (payments/services/payout_runs.py; routed to the `payouts` queue) ---------------


@shared_task(name=payout_run_services.PAYOUT_RUN_FREEZE_TASK, ignore_result=True)
def payout_run_freeze(run_id: int) -> None:
    """Freeze a draft run (resumes where a crashed freeze stopped; does nothing once frozen)."""
    payout_run_services.payout_run_freeze(run_id=run_id)


@shared_task(name=payout_run_services.PAYOUT_RUN_DISPATCH_TASK, ignore_result=True)
def payout_run_dispatch(run_id: int) -> None:
    """Queue an approved run's items (or put them in its bank file)."""
    payout_run_services.payout_run_dispatch(run_id=run_id)


@shared_task(name=payout_run_services.PAYOUT_ITEM_EXECUTE_TASK, ignore_result=True)
def payout_item_execute(item_id: int) -> None:
    """Pay one item attempt; re-checks everything, safe to run twice."""
    try:
        payout_run_services.payout_item_execute(item_id=item_id)
    except NotFound:
        return


@shared_task(name="payments.tasks.payout_items_due", ignore_result=True)
def payout_items_due() -> int:
    """Queue ambiguous items due for their retry and items whose worker died mid-call (beat,
    every minute); return how many."""
    due = payout_run_services.payout_items_due()
    for item_id in due:
        payout_item_execute.delay(item_id)
    return len(due)


@shared_task(name="payments.tasks.payout_runs_reconcile", ignore_result=True)
def payout_runs_reconcile() -> int:
    """Check every run against the ledger and the provider (beat, hourly); store and log the
    differences; return how many. Reads, and writes only the stored report."""
    found = payout_run_services.payout_runs_reconcile()
    return sum(len(problems) for problems in found.values())
