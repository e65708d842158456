"""Active-hour pay: one earning per person, project, day and rate, growing exactly with the
server-measured seconds of each submission; payable once the day is over."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from payments.models import Earning, LedgerTransaction
from payments.selectors.ledger import ledger_reconciliation
from payments.services.earnings import earning_accrue, hourly_amount
from payments.tasks import earnings_hourly_finalise
from tests.labeling.factories import add_tasks, annotate, make_project, make_worker
from tests.payments.earnings.helpers import expected_payable, payable, pending
from tests.payments.factories import rate, rate_version

pytestmark = pytest.mark.django_db

PER_HOUR = 7_777_777  # 7.777777 an hour: no whole number of micros per second


def _hourly_project():
    project = make_project(gold_warmup=0)
    start = timezone.now() - timedelta(days=3)
    rate_version(
        rate("annotation", PER_HOUR, unit="per_hour"),
        project=project,
        now=start,
        effective_from=start,
    )
    return project


def _accrue(worker, project, annotation_id, seconds, at):
    return earning_accrue(
        user_id=worker.pk,
        project_id=project.pk,
        task_id=annotation_id,
        annotation_id=annotation_id,
        review_id=None,
        review_level=None,
        kind="annotate",
        active_seconds=seconds,
        submitted_at=at,
    )


def test_a_day_of_submissions_earns_exactly_its_seconds_at_the_hourly_rate():
    project, worker = _hourly_project(), make_worker()
    at = timezone.now()
    seconds = [37, 1, 59, 3_601, 13]

    for n, s in enumerate(seconds, start=1):
        _accrue(worker, project, n, s, at)

    (day,) = Earning.objects.filter(user=worker)
    assert day.unit == "per_hour" and day.task_id is None
    assert day.active_seconds == sum(seconds)
    assert day.amount_micros == hourly_amount(seconds=sum(seconds), rate_micros=PER_HOUR)
    assert day.amount_micros == sum(seconds) * PER_HOUR // 3600
    assert pending(worker) == day.amount_micros
    keys = LedgerTransaction.objects.filter(source_key__startswith=f"earning:accrue:hour:{day.pk}:")
    assert keys.count() == len(seconds)
    assert ledger_reconciliation().is_clean


def test_repeating_a_submission_adds_no_second():
    project, worker = _hourly_project(), make_worker()
    at = timezone.now()

    _accrue(worker, project, 1, 100, at)
    _accrue(worker, project, 1, 100, at)

    assert Earning.objects.get(user=worker).active_seconds == 100


def test_each_day_is_its_own_earning_and_becomes_payable_after_it_ends():
    project, worker = _hourly_project(), make_worker()
    yesterday = timezone.now() - timedelta(days=1)
    _accrue(worker, project, 1, 1_800, yesterday)
    _accrue(worker, project, 2, 900, timezone.now())

    moved = earnings_hourly_finalise()

    assert moved == 1
    old, new = Earning.objects.filter(user=worker).order_by("earned_on")
    assert (old.status, new.status) == ("payable", "pending")
    assert payable(worker) == expected_payable(worker)
    assert payable(worker) + pending(worker) == old.amount_micros + new.amount_micros
    assert earnings_hourly_finalise() == 0


def test_submissions_through_the_queue_accrue_their_active_time():
    project, worker = _hourly_project(), make_worker()
    add_tasks(project, 2)

    # Claimed 40 seconds ago: the submission measures active time on the server.
    claim = slot_claim_next(
        project=project, user=worker, now=timezone.now() - timedelta(seconds=40)
    )
    first = lease_submit(lease_id=claim.lease.pk, user=worker, result={"label": "cat"})
    second = annotate(project, worker)
    assert first.active_seconds > 0

    (day,) = Earning.objects.filter(user=worker)
    assert day.active_seconds == first.active_seconds + second.active_seconds
