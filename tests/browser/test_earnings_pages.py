"""The Earnings page and the incentive close in a browser: an annotator reads their lines and
opens a printable statement; finance closes a period with the button and sees it closed."""

from datetime import timedelta

import pytest

from accounts.models import Role
from tests.browser.conftest import require_chromium, screenshot
from tests.browser.test_portal_layout import signed_in_as
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.incentives.helpers import WEEK, accrual, program, rolled_up_until, work

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_annotator_reads_their_earnings_and_opens_a_statement(page, live_server):
    person = make_user(Role.ANNOTATOR)
    project = make_project()
    accrual(person, project, 1_250_000, "browser-1", WEEK + timedelta(hours=2))
    signed_in_as(page, live_server, person)

    page.goto("/earnings/?month=2026-11")
    page.get_by_role("link", name="printable page").click()

    screenshot(page, "earnings-statement")
    assert page.get_by_role("heading", name="Statement for 2026-11").is_visible()
    assert page.get_by_role("cell", name=project.name).is_visible()
    assert page.get_by_role("cell", name="1.25 USD").first.is_visible()
    assert page.get_by_role("button", name="Print").is_visible()


def test_finance_closes_a_period_with_the_button(page, live_server):
    rolled_up_until(WEEK + timedelta(days=7))
    person = make_user(Role.ANNOTATOR)
    work(person, make_project(), final_tasks=12)
    quality_week = program()
    signed_in_as(page, live_server, make_user(Role.FINANCE, mfa=True))

    page.goto(f"/finance/incentives/{quality_week.pk}/")
    page.get_by_label("Period start").fill(f"{WEEK:%Y-%m-%d}")
    page.get_by_role("button", name="Close this period").click()

    screenshot(page, "incentive-period-closed")
    assert page.get_by_role("status").filter(has_text="Closed").is_visible()
    assert page.get_by_text("Tier 1 met (final tasks: 12 ≥ 10)").is_visible()
