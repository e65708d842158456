"""Chromium renders the people dashboards with their charts: the people table with a sparkline
per person, a person's page and "My performance" with drawn canvases; screenshots in
test-artifacts/."""

import pytest
from django.conf import settings
from django.test import Client

from tests.browser.conftest import require_chromium, screenshot
from tests.dashboards.people_data import add_people, make_world

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_as(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def drawn_pixels(page, canvas_id: str) -> int:
    """How many pixels of the canvas are not blank (a chart drew something)."""
    return page.evaluate(
        """(id) => {
          const canvas = document.getElementById(id);
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let n = 0;
          for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) { n += 1; } }
          return n;
        }""",
        canvas_id,
    )


def test_the_people_table_renders_with_sparklines_and_sorts(page, live_server):
    world = make_world()
    add_people(world.team, 6, world.p1, world.hour)
    signed_in_as(page, live_server, world.manager)

    page.goto("/dashboards/people/")
    page.locator('a[data-sort="submissions"]').click()
    page.wait_for_url("**sort=-submissions**")

    screenshot(page, "dashboards-people-table")
    rows = page.locator("#people-table tbody tr")
    assert rows.count() == 8
    assert page.locator("#people-table svg.sparkline polyline").count() == 8
    first = rows.first.get_attribute("data-person")
    assert first == str(world.a.pk)  # 10 submissions, the most
    assert page.locator("#people-csv").get_attribute("href").startswith("/dashboards/people.csv?")


def test_a_persons_page_draws_its_charts(page, live_server):
    world = make_world()
    signed_in_as(page, live_server, world.manager)

    page.goto(f"/dashboards/people/{world.a.pk}/")
    for chart in ("chart-throughput", "chart-accuracy", "chart-time"):
        page.wait_for_selector(f"#{chart}[data-drawn='1']")

    screenshot(page, "dashboards-person")
    for chart in ("chart-throughput", "chart-accuracy", "chart-time"):
        assert drawn_pixels(page, chart) > 500, chart
    assert page.locator("#status-form").is_visible()
    assert page.locator("#tier-form").is_visible()


def test_a_manager_messages_and_retrains_a_person_from_their_page(page, live_server):
    world = make_world()
    signed_in_as(page, live_server, world.manager)
    page.goto(f"/dashboards/people/{world.a.pk}/")

    page.fill("#id_message-subject", "Your boxes")
    page.fill("#id_message-body", "Tighter boxes, please.")
    page.click("#message-form button[type=submit]")
    page.wait_for_selector("text=Message sent to")
    page.select_option("#id_retrain-project", str(world.p1.pk))
    page.fill("#id_retrain-reason", "Gold accuracy fell this week.")
    page.click("#retrain-form button[type=submit]")
    page.wait_for_selector("text=is sent back to training")

    screenshot(page, "dashboards-person-actions")
    assert (
        page.locator("section[aria-labelledby=h-actions]")
        .get_by_text("Sent back to training by a manager")
        .is_visible()
    )


def test_my_performance_draws_the_persons_own_charts(page, live_server):
    world = make_world()
    signed_in_as(page, live_server, world.b)

    page.goto("/dashboards/me/")
    page.wait_for_selector("#chart-accuracy[data-drawn='1']")

    screenshot(page, "dashboards-my-performance")
    assert drawn_pixels(page, "chart-accuracy") > 500
    assert page.get_by_role("link", name="My performance").count() == 1


def test_teams_side_by_side_draws_its_chart(page, live_server):
    world = make_world()
    signed_in_as(page, live_server, world.admin)

    page.goto("/dashboards/teams/")
    page.wait_for_selector("#chart-teams[data-drawn='1']")

    screenshot(page, "dashboards-teams")
    assert drawn_pixels(page, "chart-teams") > 500
    assert page.locator("#teams-table tbody tr").count() == 2
