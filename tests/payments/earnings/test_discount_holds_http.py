"""What finance and the person see of pay held because a quality rule discarded the work: the
holds page and API with the rule and its figures, and the person's Earnings page with the held
line and why."""

import pytest

from tests.payments.earnings.helpers import priced_consensus, spammer_discounted

pytestmark = pytest.mark.django_db


@pytest.fixture
def spammed():
    return spammer_discounted(priced_consensus())


def test_the_holds_page_shows_the_rule_and_its_figures_for_discounted_pay(client, spammed, finance):
    spammer, _, action = spammed
    client.force_login(finance)

    page = client.get("/finance/holds/", {"cause": "discounted"}).content.decode()

    assert spammer.email in page and "Work discarded by a quality rule" in page
    assert f"{action.rule.name}</a>" not in page  # finance cannot open the Quality pages
    assert f"{action.rule.name} (action {action.pk}: suspend from the project" in page
    assert "Gold accuracy &lt; 0.6 over the last 20 items" in page
    assert f"0.000 over {action.sample_size} items" in page
    assert "2 pieces" in page


def test_the_api_links_a_discounted_hold_to_its_rule_action(client, spammed, finance):
    _, _, action = spammed
    client.force_login(finance)

    rows = client.get("/api/v1/holds/", {"cause": "discounted"}).json()["results"]

    assert [(row["cause"], row["rule_action"]) for row in rows] == [("discounted", action.pk)] * 2


def test_the_person_sees_their_held_pay_and_why_on_their_earnings_page(client, spammed):
    spammer, work, action = spammed
    client.force_login(spammer)

    page = client.get("/earnings/").content.decode()

    assert "Held pay" in page and "0.05 USD" in page
    assert "Work discarded by a quality rule: Work discounted by the quality rule" in page
    assert f'href="/quality/actions/{action.pk}/"' in page
    assert f"task {work[0].task_id}" in page
