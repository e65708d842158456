"""The Celery application and the one place where the periodic schedule is declared."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("quorum")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def database_connections_tidy(sender: Any = None, **_kwargs: Any) -> None:
    """Before and after each task a worker runs, close the database connections that are too old
    (DB_CONN_MAX_AGE) or unusable, as Django does around each request; keep the others (Celery's
    own fix-up no longer closes them every task: CELERY_DB_REUSE_MAX). An eager task runs inside
    its caller's transaction, which it must not close."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


# Every periodic job of the product, and only here.
app.conf.beat_schedule = {
    "beat-heartbeat": {
        "task": "core.tasks.beat_heartbeat",
        "schedule": 60.0,
    },
    "leases-reclaim-expired": {
        "task": "labeling.tasks.leases_reclaim_expired",
        "schedule": 60.0,
    },
    "reworks-reassign-orphaned": {
        "task": "labeling.tasks.reworks_reassign_orphaned",
        "schedule": 60.0,
    },
    "check-attempts-time-out": {
        "task": "labeling.tasks.check_attempts_time_out",
        "schedule": 60.0,
    },
    "webhook-deliveries-due": {
        "task": "labeling.tasks.webhook_deliveries_due",
        "schedule": 60.0,
    },
    "consensus-estimates-due": {
        "task": "labeling.tasks.consensus_estimates_due",
        "schedule": 900.0,
    },
    "quality-rules-sweep": {
        "task": "labeling.tasks.rules_sweep",
        "schedule": 600.0,
    },
    "probation-sweep": {
        "task": "quality.tasks.probation_sweep",
        "schedule": 3600.0,
    },
    "performance-rollups-catch-up": {
        "task": "quality.tasks.performance_rollups_catch_up",
        "schedule": 300.0,
    },
    "project-agreements-refresh": {
        "task": "quality.tasks.project_agreements_refresh",
        "schedule": 3600.0,
    },
    "tier-candidates-compute-weekly": {
        "task": "quality.tasks.tier_candidates_compute_weekly",
        "schedule": crontab(day_of_week="mon", hour=4, minute=0),
    },
    "stripe-events-due": {
        "task": "payments.tasks.stripe_events_due",
        "schedule": 60.0,
    },
    "ledger-reconcile-daily": {
        "task": "payments.tasks.ledger_reconcile",
        "schedule": crontab(hour=2, minute=15),
    },
    "earning-days-roll": {
        "task": "payments.tasks.earning_days_roll",
        "schedule": 300.0,
    },
    "earnings-hourly-finalise": {
        "task": "payments.tasks.earnings_hourly_finalise",
        "schedule": crontab(minute=5),
    },
    "payout-items-due": {
        "task": "payments.tasks.payout_items_due",
        "schedule": 60.0,
    },
    "payout-runs-reconcile-hourly": {
        "task": "payments.tasks.payout_runs_reconcile",
        "schedule": crontab(minute=40),
    },
    "sessions-clear-expired": {
        "task": "core.tasks.sessions_clear_expired",
        "schedule": crontab(hour=3, minute=30),
    },
    "incentive-periods-close-due": {
        "task": "payments.tasks.incentive_periods_close_due",
        "schedule": 900.0,
    },
}
