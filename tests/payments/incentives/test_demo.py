"""The demo's incentive programs: a weekly program with two versions and a daily project
multiplier; seeding twice adds nothing and posts nothing twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.incentives_demo import incentives_demo_seed
from payments.models import IncentivePeriod, IncentiveProgram, LedgerTransaction
from quality.performance.rollups import hour_floor
from tests.labeling.factories import make_customer, make_project
from tests.payments.incentives.helpers import rolled_up_until

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_running_programs_once_and_closes_due_periods_once():
    customer = make_customer()
    make_project(customer)
    rolled_up_until(hour_floor(timezone.now()))

    first = incentives_demo_seed(customer=customer)
    closed = IncentivePeriod.objects.count()
    again = incentives_demo_seed(customer=customer)

    assert len(first) == 2 and again == []
    assert IncentiveProgram.objects.count() == 2
    weekly = IncentiveProgram.objects.get(scope="everyone")
    assert weekly.versions.count() == 2
    assert closed >= 3 and IncentivePeriod.objects.count() == closed
    assert set(IncentivePeriod.objects.values_list("status", flat=True)) == {"closed"}
    assert not LedgerTransaction.objects.filter(source_key__startswith="incentive:").exists()
    assert timedelta(0) < timezone.now() - weekly.versions.get(number=1).effective_from
