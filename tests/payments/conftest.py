"""Fixtures of the payments tests: a person, a project, a finance user (with MFA), signed in or not;
the fake Stripe server with Quorum's Stripe settings pointing at it."""

import pytest

from accounts.models import Role
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.fake_stripe import FakeStripe


@pytest.fixture
def person():
    return make_user(Role.ANNOTATOR)


@pytest.fixture
def project():
    return make_project()


@pytest.fixture
def finance():
    return make_user(Role.FINANCE, mfa=True)


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


@pytest.fixture
def person_client(client, person):
    client.force_login(person)
    return client


# --- Stripe: the local fake server (tests/payments/fake_stripe.py) ----------------------------

WEBHOOK_SECRET = "whsec_test_quorum_fake"


@pytest.fixture(scope="session")
def fake_stripe_server():
    """One fake Stripe server for the session, on 127.0.0.1 and a free port; stopped at the end."""
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server, settings):
    """The fake server, emptied, with Quorum's Stripe settings pointing at it.

    Short timeouts and no SDK retries unless a test asks for them, so faults show at once.
    """
    fake_stripe_server.reset()
    settings.STRIPE_API_KEY = fake_stripe_server.api_key
    settings.STRIPE_API_BASE = fake_stripe_server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_CONNECT_TIMEOUT_SECONDS = 2.0
    settings.STRIPE_READ_TIMEOUT_SECONDS = 2.0
    yield fake_stripe_server
    fake_stripe_server.reset()
