"""In Chromium: finance creates a Stripe payout run, a second finance user checks the balance,
approves it and watches it complete; the annotator then sees the payout on their page."""

import pytest
from django.conf import settings
from django.test import Client

from tests.browser.conftest import require_chromium, screenshot
from tests.labeling.factories import make_project
from tests.payments.fake_stripe import FakeStripe
from tests.payments.payout_runs.helpers import finance_user, stripe_account, stripe_person

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake_stripe(settings):
    """The local fake Stripe server for this test, Quorum's Stripe settings pointing at it."""
    server = FakeStripe().start()
    settings.STRIPE_API_KEY = server.api_key
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_CONNECT_TIMEOUT_SECONDS = 2.0
    settings.STRIPE_READ_TIMEOUT_SECONDS = 2.0
    yield server
    server.stop()


@pytest.fixture
def project():
    return make_project()


def signed_in_as(page, live_server, user) -> None:
    """Give the browser the session of `user` (finance signs in with a second factor)."""
    page.context.clear_cookies()
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_finance_creates_a_second_user_approves_and_the_annotator_sees_the_payout(
    page, live_server, fake_stripe, project
):
    fake_stripe.balance_set("usd", 1_000_000)
    annotator = stripe_person(project, 4_321, stripe_account(fake_stripe))
    creator, approver = finance_user(), finance_user()

    signed_in_as(page, live_server, creator)
    page.goto("/finance/payout-runs/")
    page.select_option("select[name=currency]", "USD")
    page.select_option("select[name=provider]", "stripe_connect")
    page.fill("input[name=period_start]", "2026-11-01")
    page.fill("input[name=period_end]", "2026-11-30")
    page.click("form[aria-label='New payout run'] button[type=submit]")
    page.wait_for_url("**/finance/payout-runs/*/")
    run_url = page.url
    assert page.locator("#run-status").inner_text() == "Frozen, waiting for approval"
    assert page.locator("#approve").count() == 0  # the creator cannot approve
    assert "43.21 USD" in page.content()

    signed_in_as(page, live_server, approver)
    page.goto(run_url)
    assert "Enough." in page.content()  # the provider balance check
    page.click("#approve")
    page.wait_for_url(run_url)
    page.goto(run_url)
    screenshot(page, "payout-run-done")
    assert page.locator("#run-status").inner_text() == "Done"
    assert page.locator("#run-progress").get_attribute("value") == "100"

    signed_in_as(page, live_server, annotator)
    page.goto("/payouts/")
    row = page.locator("tr.payout").first
    assert "43.21 USD" in row.inner_text() and "Paid" in row.inner_text()
