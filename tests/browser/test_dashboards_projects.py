"""The project-centric dashboards in Chromium: the manager overview and a project's page render
their Chart.js charts from the page's data (no inline script under the CSP), and the canvases
are drawn on; screenshots go to test-artifacts/."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from labeling.models import Project
from quality.performance.rollups import hour_floor
from tests.browser.conftest import require_chromium, screenshot
from tests.dashboards.conftest import labour, person_hour, project_hour
from tests.labeling.factories import make_customer_user, make_project, make_worker
from tests.quality.factories import make_manager, managed

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)

# The share of a canvas's pixels that are not transparent: a drawn chart has axes, lines, text.
PAINTED = """(id) => {
  const canvas = document.getElementById(id);
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) painted += 1; }
  return painted / (data.length / 4);
}"""


def signed_in_as(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def seeded():
    """A manager's project with 10 days of work in the rollups, a deadline it will miss, and
    labour cost; returns (manager, project, customer's user)."""
    manager = make_manager()
    a, b = make_worker(), make_worker()
    managed(manager, a, b)
    project = make_project()
    last = hour_floor(timezone.now()) - timedelta(hours=1)
    for day in range(10):
        hour = last - timedelta(days=day)
        person_hour(
            a,
            project,
            hour,
            submissions=20 + day,
            gold_scored=10,
            gold_score_micros=(6 + day % 4) * 1_000_000,
        )
        person_hour(b, project, hour, submissions=15, reviews_passed=4, reviews_failed=1)
        project_hour(project, hour, 12 + day)
    Project.objects.filter(pk=project.pk).update(
        tasks_total=500, tasks_completed_folded=150, deadline=timezone.now() + timedelta(days=2)
    )
    labour(project, 75_000_000, key="browser:1")
    project.seeded_last_hour = last  # the days the work lands on depend on the time of day
    return manager, project, make_customer_user(project.customer)


def wait_for_chart(page, canvas_id: str) -> float:
    page.wait_for_function(
        "(id) => window.QuorumCharts && window.QuorumCharts.drawn[id]", arg=canvas_id
    )
    return page.evaluate(PAINTED, canvas_id)


def test_the_overview_draws_its_throughput_chart_and_flags_the_late_project(page, live_server):
    manager, project, _ = seeded()
    signed_in_as(page, live_server, manager)

    page.goto("/dashboards/")
    painted = wait_for_chart(page, "throughput-chart")

    assert painted > 0.01
    assert page.locator(f'#projects tr[data-project="{project.pk}"] .late-flag').is_visible()
    assert page.locator("#alert-late").inner_text().startswith(project.name)
    screenshot(page, "dashboards-overview")


def test_a_project_page_draws_throughput_and_gold_with_its_band(page, live_server):
    manager, project, _ = seeded()
    signed_in_as(page, live_server, manager)

    page.goto(f"/dashboards/projects/{project.pk}/")
    throughput = wait_for_chart(page, "project-throughput-chart")
    gold = wait_for_chart(page, "project-gold-chart")

    assert throughput > 0.01 and gold > 0.01
    points = page.evaluate(
        "() => window.QuorumCharts.drawn['project-throughput-chart'].data.datasets[0].data"
    )
    # One point per UTC day, the last today: the ten days of work end on the day of the last
    # whole hour (yesterday, in the first hour of a day).
    finals = {(project.seeded_last_hour - timedelta(days=d)).date(): 12 + d for d in range(10)}
    today = (project.seeded_last_hour + timedelta(hours=1)).date()
    expected = [finals.get(today - timedelta(days=i), 0) for i in range(29, -1, -1)]
    assert len(points) == 30 and points == expected
    assert "75.00 USD" in page.locator("#cost").inner_text()
    screenshot(page, "dashboards-project")


def test_a_customer_sees_their_project_page_with_charts(page, live_server):
    _, project, customer_user = seeded()
    signed_in_as(page, live_server, customer_user)

    page.goto("/dashboards/customer/")
    page.get_by_role("link", name=project.name).click()
    painted = wait_for_chart(page, "project-throughput-chart")

    assert painted > 0.01
    screenshot(page, "dashboards-customer-project")
