"""Starting Stripe's set-up from several tabs at once, on PostgreSQL: one account at Stripe (the
person's idempotency key), one stored row, one payout account."""

import threading

import pytest
from django.db import connections

from accounts.models import Role
from payments.models import PayoutAccount, StripeConnectedAccount
from payments.services.stripe_connect import stripe_connect_start
from tests.factories import make_user

THREADS = 6
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_starts_make_one_connected_account(fake_stripe, stripe_offered, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 5  # a request in flight under the same key answers 409
    person = make_user(Role.ANNOTATOR)
    start = threading.Barrier(THREADS)
    errors: list[str] = []
    ids: list[str] = []

    def go() -> None:
        try:
            start.wait(timeout=30)
            ids.append(
                stripe_connect_start(user=person, country="KE", currency="USD").stripe_account
            )
        except Exception as exc:  # reported to the test thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(fake_stripe.accounts) == 1 and set(ids) == set(fake_stripe.accounts)
    assert StripeConnectedAccount.objects.filter(user=person).count() == 1
    assert PayoutAccount.objects.filter(user=person).count() == 1
