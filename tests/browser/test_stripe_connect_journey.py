"""Stripe Connect in a real browser: a person presses "Set up payouts with Stripe", goes through
the (fake) Stripe's hosted onboarding, comes back to the return page, and sees that Stripe can
pay them. The fake Stripe server serves the onboarding page on its own origin, as Stripe does.
A screenshot is left in test-artifacts/ (stripe-connect-*.png)."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role
from payments.models import StripeConnectedAccount
from payments.services.payout_accounts import payout_country_providers_set
from tests.browser.conftest import require_chromium, screenshot
from tests.factories import make_user
from tests.payments.fake_stripe import FakeStripe

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake_stripe(settings, live_server):
    server = FakeStripe().start()
    settings.STRIPE_API_KEY = server.api_key
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.SITE_URL = live_server.url  # Stripe sends the person back here
    yield server
    server.stop()


def test_a_person_sets_up_stripe_and_comes_back_able_to_be_paid(page, live_server, fake_stripe):
    person = make_user(Role.ANNOTATOR)
    payout_country_providers_set(
        country="KE", providers=["stripe_connect"], actor=make_user(Role.FINANCE, mfa=True)
    )
    client = Client()
    client.force_login(person)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    page.goto("/payout-account/")
    page.select_option("#id_stripe_country", "KE")
    page.select_option("#id_stripe_currency", "USD")
    page.click("#stripe-continue")
    page.wait_for_url(f"{live_server.url}/payout-account/")

    assert page.get_attribute("#stripe-status", "data-ready") == "1"
    assert "Your Stripe account can receive payouts." in page.text_content(".messages")
    assert page.text_content("#stripe-payouts-enabled") == "Yes"
    screenshot(page, "stripe-connect-1-back-from-stripe")
    row = StripeConnectedAccount.objects.get(user=person)
    assert row.can_receive_transfers
    assert [r.path for r in fake_stripe.requests("GET")][-1] == f"/v1/accounts/{row.stripe_account}"
