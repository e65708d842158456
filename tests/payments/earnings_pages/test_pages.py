"""The Earnings pages: a person's own lines per day and project from the ledger, bonuses with
their reasons, statements whose totals are the ledger's, and nobody else's earnings (404)."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from labeling.models import Project
from payments.models import AccountKind, IncentiveBonusLine, LedgerEntry
from payments.services.incentives import incentive_period_close
from payments.services.ledger import ledger_reverse
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.incentives.helpers import (
    WEEK,
    accrual,
    finalise,
    program,
    rolled_up_until,
    work,
)

pytestmark = pytest.mark.django_db

MONTH = "2026-11"


def _statement_url(name, person, month=MONTH):
    return reverse(f"payments:{name}", args=[person.pk, month])


def _earn(person, project, n, *, start=WEEK, micros=1_250_000):
    for i in range(n):
        accrual(
            person, project, micros, f"{person.pk}:{project.pk}:{i}", start + timedelta(hours=i)
        )


def test_the_page_shows_a_line_per_day_and_project_from_the_ledger(person_client, person):
    alpha, beta = make_project(), make_project()
    _earn(person, alpha, 2)
    _earn(person, beta, 1, micros=3_500)
    gone = accrual(person, alpha, 400_000, "gone", WEEK + timedelta(hours=5))
    ledger_reverse(
        transaction=gone, reason="rejected by review", actor=None, at=WEEK + timedelta(hours=6)
    )

    page = person_client.get(reverse("payments:earnings"), {"month": MONTH})

    assert page.status_code == 200
    lines = {(line.project_name, line.pieces): line for line in page.context["lines"]}
    assert lines[(alpha.name, 3)].earned == "2.90 USD"
    assert lines[(alpha.name, 3)].reversed == "-0.40 USD"
    assert lines[(beta.name, 1)].earned == "0.0035 USD"
    assert "2.50 USD" in page.content.decode()


def test_the_summary_shows_pending_payable_and_this_week(person_client, person, project):
    now = datetime.now(UTC)
    accrual(person, project, 2_000_000, "today", now - timedelta(seconds=1))
    finalise(person, 1_000_000, "today", now)

    summary = person_client.get(reverse("payments:earnings")).context["summaries"][0]

    assert (summary.pending, summary.payable, summary.today) == ("1.00 USD", "1.00 USD", "2.00 USD")


def test_another_persons_earnings_are_not_found_in_the_portal(client, person, project):
    other = make_user(Role.ANNOTATOR)
    _earn(person, project, 1)
    client.force_login(other)

    urls = [
        reverse("payments:person_earnings", args=[person.pk]),
        _statement_url("earnings_statement", person),
        _statement_url("earnings_statement_csv", person),
    ]

    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    assert client.get(reverse("payments:person_earnings", args=[other.pk])).status_code == 200


def test_another_persons_bonus_figures_are_not_found(client, person, project):
    rolled_up_until(WEEK + timedelta(days=7))
    work(person, project, final_tasks=10)
    incentive_period_close(
        program=program(), starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8)
    )
    line = IncentiveBonusLine.objects.get()
    client.force_login(make_user(Role.ANNOTATOR))

    assert client.get(reverse("payments:earnings_bonus", args=[line.pk])).status_code == 404


def test_finance_reads_anyones_earnings(finance_client, person, project):
    _earn(person, project, 1)

    assert (
        finance_client.get(reverse("payments:person_earnings", args=[person.pk])).status_code == 200
    )
    assert finance_client.get(_statement_url("earnings_statement", person)).status_code == 200


def test_a_bonus_shows_with_its_reason_and_figures(person_client, person, project):
    rolled_up_until(WEEK + timedelta(days=7))
    work(person, project, final_tasks=12)
    incentive_period_close(
        program=program(), starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8)
    )
    line = IncentiveBonusLine.objects.get()

    page = person_client.get(reverse("payments:earnings")).content.decode()
    figures = person_client.get(reverse("payments:earnings_bonus", args=[line.pk])).content.decode()

    assert "10.00 USD" in page and "Tier 1 met (final tasks: 12 ≥ 10)." in page
    assert "final tasks: 12 ≥ 10" in figures and f"version {line.version.number}" in figures


def test_statement_csv_totals_equal_the_ledger(person_client, person, project):
    rolled_up_until(WEEK + timedelta(days=7))
    _earn(person, project, 5, micros=1_234_567)
    gone = accrual(person, project, 999_999, "gone", WEEK + timedelta(hours=9))
    ledger_reverse(transaction=gone, reason="wrong", actor=None, at=WEEK + timedelta(hours=10))
    accrual(person, project, 7_000_000, "december", datetime(2026, 12, 1, 1, tzinfo=UTC))
    work(person, project, final_tasks=10)
    incentive_period_close(
        program=program(), starts_at=WEEK, actor=None, now=WEEK + timedelta(days=8)
    )

    response = person_client.get(_statement_url("earnings_statement_csv", person))

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    total = next(row for row in rows if row["kind"] == "total")
    november = LedgerEntry.objects.filter(
        account__user=person,
        transaction__posted_at__gte=datetime(2026, 11, 1, tzinfo=UTC),
        transaction__posted_at__lt=datetime(2026, 12, 1, tzinfo=UTC),
    )
    earned = november.filter(account__kind=AccountKind.PENDING).aggregate(s=Sum("amount_micros"))[
        "s"
    ]
    bonus = november.filter(account__kind=AccountKind.PAYABLE).aggregate(s=Sum("amount_micros"))[
        "s"
    ]
    assert int(total["total_micros"]) == earned + bonus == 5 * 1_234_567 + 10_000_000
    assert total["total"] == "16.172835"
    assert sum(int(r["total_micros"]) for r in rows if r["kind"] != "total") == earned + bonus
    assert response["Content-Disposition"].endswith(f'-{MONTH}.csv"')


def test_the_earnings_page_query_count_does_not_grow_with_lines(person_client, person):
    projects = [make_project() for _ in range(3)]
    _earn(person, projects[0], 1)
    url = reverse("payments:earnings")

    with CaptureQueriesContext(connection) as few:
        person_client.get(url, {"month": MONTH})
    for project in projects:
        _earn(person, project, 30, start=WEEK + timedelta(days=1))
    with CaptureQueriesContext(connection) as many:
        page = person_client.get(url, {"month": MONTH})

    assert len(page.context["lines"]) > 3
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_month_that_is_not_one_is_not_found(person_client, person):
    assert (
        person_client.get(_statement_url("earnings_statement", person, "2026-13")).status_code
        == 404
    )
    assert person_client.get(reverse("payments:earnings"), {"month": "nov"}).status_code == 404


def test_a_project_name_that_looks_like_a_formula_is_inert_in_the_csv(person_client, person):
    project = make_project()
    Project.objects.filter(pk=project.pk).update(name="=HYPERLINK(1)")
    _earn(person, project, 1)

    response = person_client.get(_statement_url("earnings_statement_csv", person))

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["project_or_program"] == "'=HYPERLINK(1)"
