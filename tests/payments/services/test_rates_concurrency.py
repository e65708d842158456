"""Finance users adding versions to one card at once, on PostgreSQL: one card, no number twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from payments.models import RateCard, RateCardVersion
from tests.labeling.factories import make_project
from tests.payments.factories import rate, rate_version

THREADS = 8
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_versions_added_at_once_to_a_new_card_share_it_and_number_one_by_one():
    project = make_project()
    start = threading.Barrier(THREADS)
    errors: list[str] = []
    base = timezone.now() + timedelta(days=1)

    def add(n: int) -> None:
        try:
            start.wait(timeout=30)
            rate_version(
                rate(amount_micros=1_000 + n),
                project=project,
                effective_from=base + timedelta(hours=n),
            )
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert RateCard.objects.filter(project=project).count() == 1
    numbers = sorted(RateCardVersion.objects.values_list("number", flat=True))
    assert numbers == list(range(1, THREADS + 1))
