"""Stripe Connect fixtures: Stripe offered in Kenya (the factories' annotators live there), and
a client whose requests run what they queue on commit (the webhook's processing task)."""

import pytest

from accounts.models import Role
from payments.services.payout_accounts import payout_country_providers_set
from tests.factories import make_user


@pytest.fixture
def stripe_offered(db):
    admin = make_user(Role.FINANCE, mfa=True)
    payout_country_providers_set(country="KE", providers=["stripe_connect"], actor=admin)
    payout_country_providers_set(
        country="DE", providers=["bank_file", "stripe_connect"], actor=admin
    )


@pytest.fixture
def committing(client, django_capture_on_commit_callbacks):
    """The test client, running what a request queues on commit as a real commit would."""

    class Committing:
        def post(self, *args, **kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                return client.post(*args, **kwargs)

        def get(self, *args, **kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                return client.get(*args, **kwargs)

    return Committing()
