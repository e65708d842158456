"""A project's dashboard page, its CSV and the pace API: who may see which project, the figures
(progress, pace and ETA, daily throughput, quality, cost) by hand, and payments' labour cost."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards.views.manager import csv_cell
from payments.models import LedgerTransaction
from payments.selectors.ledger import project_labour_cost
from payments.services.ledger import ledger_reverse
from quality.performance.models import ProjectAgreement
from tests.dashboards.conftest import LAST_HOUR, NOW, labour, person_hour, progress, project_hour

pytestmark = pytest.mark.django_db


def page_of(client, user, project):
    client.force_login(user)
    return client.get(f"/dashboards/projects/{project.pk}/")


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("manager", 200),
        ("admin", 200),
        ("customer_user", 200),
        ("other_manager", 404),
        ("other_customer_user", 404),
        ("a", 403),
    ],
)
def test_a_project_page_is_for_its_managers_and_its_customer_only(client, world, who, status):
    assert page_of(client, getattr(world, who), world.mine).status_code == status


@pytest.mark.parametrize(
    "path", ["/dashboards/projects/{}/days.csv", "/api/v1/dashboards/projects/{}/pace/"]
)
def test_another_teams_project_is_not_found_in_the_csv_and_the_api(client, world, path):
    client.force_login(world.manager)

    assert client.get(path.format(world.theirs.pk)).status_code == 404
    assert client.get(path.format(world.mine.pk)).status_code == 200


def test_the_page_shows_progress_pace_eta_and_the_deadline(client, world, frozen):
    # 24 final tasks in the window: 1 an hour; 6 left: ETA in 6 h, before the deadline in 7 h.
    progress(world.mine, total=10, final=4, deadline=NOW + timedelta(hours=7))
    project_hour(world.mine, LAST_HOUR, 20)
    project_hour(world.mine, LAST_HOUR - timedelta(hours=23), 4)

    page = page_of(client, world.manager, world.mine)

    figures = page.context["figures"]
    assert figures.progress_percent == 40
    assert figures.pace.eta == NOW + timedelta(hours=6)
    assert figures.pace.status == "on_time"
    html = page.content.decode()
    assert "2026-11-20 20:20 UTC" in html  # the ETA
    assert "on time" in html


def test_the_throughput_chart_has_a_point_per_day_from_the_rollups(client, world, frozen):
    person_hour(world.a, world.mine, LAST_HOUR, submissions=5)
    person_hour(world.b, world.mine, LAST_HOUR - timedelta(hours=1), submissions=2)
    person_hour(world.a, world.mine, LAST_HOUR - timedelta(days=2), submissions=4)
    project_hour(world.mine, LAST_HOUR, 3)

    chart = page_of(client, world.manager, world.mine).context["chart"]

    assert len(chart["labels"]) == 30
    assert chart["labels"][-1] == "2026-11-20"
    assert chart["submissions"][-1] == 7
    assert chart["final_tasks"][-1] == 3
    assert chart["submissions"][-3] == 4
    assert sum(chart["submissions"]) == 11


def test_quality_shows_stored_alpha_gold_with_its_interval_and_review_outcomes(
    client, world, frozen
):
    person_hour(
        world.a,
        world.mine,
        LAST_HOUR,
        gold_scored=10,
        gold_score_micros=8_000_000,
        reviews_passed=3,
        reviews_failed=1,
        corrections=1,
    )
    ProjectAgreement.objects.create(
        project=world.mine, alpha=0.734, label="Krippendorff's alpha (nominal)", tasks=40
    )

    page = page_of(client, world.manager, world.mine)

    whole = page.context["figures"].whole
    assert whole.measures["gold_accuracy"] == pytest.approx(0.8)
    html = page.content.decode()
    assert "Krippendorff&#x27;s alpha (nominal): 0.734" in html
    # Wilson 95% of 8/10: 0.490 to 0.943 (the page puts an en dash between).
    assert "0.800 (0.490\u20130.943) on 10 gold answers" in html
    assert "3 passed, 1 failed (1 corrected); pass rate 0.750" in html


def test_cost_is_the_projects_labour_expense_and_per_final_task_rounded_half_up(
    client, world, frozen
):
    progress(world.mine, total=10, final=3)
    labour(world.mine, 6_000_000, key="t:1")  # 6.00 USD
    labour(world.mine, 4_000_000, key="t:2")  # 4.00 USD
    labour(world.theirs, 99_000_000, key="t:3")  # someone else's project

    page = page_of(client, world.manager, world.mine)

    [cost] = page.context["figures"].costs
    assert cost.total_text == "10.00 USD"
    assert cost.per_final_task_text == "3.33 USD"  # 1000 cents / 3 = 333.3
    assert "10.00 USD" in page.content.decode()


def test_an_unpriced_project_says_so(client, world, frozen):
    page = page_of(client, world.manager, world.mine)

    assert page.context["figures"].costs == []
    assert "Not priced" in page.content.decode()


def test_labour_cost_counts_reversals_and_keeps_currencies_apart(world):
    labour(world.mine, 5_000_000, key="c:1")
    labour(world.mine, 2_500_000, key="c:2")
    labour(world.mine, 700, key="c:3", currency="EUR")
    ledger_reverse(
        transaction=LedgerTransaction.objects.get(source_key="c:2"), reason="Rejected.", actor=None
    )

    costs = project_labour_cost([world.mine.pk, world.theirs.pk])
    euros = project_labour_cost([world.mine.pk], currency="EUR")

    assert [(c.amount, c.currency) for c in costs[world.mine.pk]] == [
        (700, "EUR"),
        (5_000_000, "USD"),
    ]
    assert world.theirs.pk not in costs
    assert [(c.amount, c.currency) for c in euros[world.mine.pk]] == [(700, "EUR")]


def test_the_csv_has_every_day_with_its_figures(client, world, frozen):
    person_hour(
        world.a, world.mine, LAST_HOUR, submissions=5, gold_scored=4, gold_score_micros=3_000_000
    )
    project_hour(world.mine, LAST_HOUR, 2)
    client.force_login(world.customer_user)

    response = client.get(f"/dashboards/projects/{world.mine.pk}/days.csv")

    lines = response.content.decode().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0].startswith("day,submissions,final_tasks,active_hours")
    assert len(lines) == 31
    last = dict(zip(lines[0].split(","), lines[-1].split(","), strict=True))
    assert last["day"] == "2026-11-20"
    assert last["submissions"] == "5"
    assert last["final_tasks"] == "2"
    assert float(last["gold_accuracy"]) == pytest.approx(0.75)


def test_csv_cells_that_look_like_formulas_are_defused():
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("@sum") == "'@sum"
    assert csv_cell("Plain") == "Plain"
    assert csv_cell(-3) == "-3"
    assert csv_cell(None) == ""


def test_the_pace_api_lists_the_projects_in_scope(client, world, frozen):
    progress(world.mine, total=10, final=4)
    project_hour(world.mine, LAST_HOUR, 12)
    client.force_login(world.manager)

    response = client.get("/api/v1/dashboards/projects/pace/")

    [row] = response.json()["results"]
    assert row["project"] == world.mine.pk
    assert row["remaining"] == 6
    assert row["per_hour"] == 0.5
    assert row["eta"] == "2026-11-21T02:20:00Z"
    assert row["status"] == "no_deadline"


def test_the_project_pages_queries_do_not_grow_with_days_of_work(client, world, frozen):
    client.force_login(world.manager)
    person_hour(world.a, world.mine, LAST_HOUR, submissions=1)
    client.get(f"/dashboards/projects/{world.mine.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/dashboards/projects/{world.mine.pk}/")

    for day in range(1, 20):
        person_hour(world.a, world.mine, LAST_HOUR - timedelta(days=day), submissions=1)
        person_hour(world.b, world.mine, LAST_HOUR - timedelta(days=day), submissions=1)
        project_hour(world.mine, LAST_HOUR - timedelta(days=day), 1)
    with CaptureQueriesContext(connection) as many:
        client.get(f"/dashboards/projects/{world.mine.pk}/")

    assert len(many) == len(few)
