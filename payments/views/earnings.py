"""The Earnings pages: a person's own (summary, a line per day and project, bonuses with their
reasons, statements per month as a printable page and CSV). Finance opens anyone's; anyone else
who asks for another person's earnings gets "not found". Read-only: nothing here writes.
"""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import User
from payments.models import IncentiveBonusLine
from payments.selectors.earnings_pages import (
    PersonEarnings,
    bonus_reason,
    check_text,
    earnings_bonus_rows,
    earnings_day_lines,
    earnings_person_visible_to,
    earnings_statement,
    earnings_statement_months,
    earnings_summary,
    month_bounds,
    statement_csv_rows,
)
from payments.selectors.holds import hold_evidence, holds_open_of

BONUSES_SHOWN = 20
HOLDS_SHOWN = 50


def earnings_person_or_404(viewer: object, person_id: int) -> User:
    """The person whose earnings `viewer` asks for (themselves, or anyone for finance)."""
    person = earnings_person_visible_to(viewer, person_id)
    if person is None:
        raise Http404
    return person


def _page(request: HttpRequest, person: User) -> HttpResponse:
    now = timezone.now()
    month = request.GET.get("month") or f"{now:%Y-%m}"
    bounds = month_bounds(month)
    if bounds is None:
        raise Http404
    earnings = PersonEarnings(person.pk)  # their newest ledger entries, read once for the page
    return render(
        request,
        "payments/earnings/page.html",
        {
            "person": person,
            "is_own": person.pk == request.user.pk,
            "month": month,
            "summaries": earnings_summary(person.pk, now=now, earnings=earnings),
            "lines": earnings_day_lines(
                person.pk, since=bounds[0], until=bounds[1], earnings=earnings
            ),
            "bonuses": earnings_bonus_rows(person.pk)[:BONUSES_SHOWN],
            "held": [
                (hold, hold_evidence(hold))
                for hold in holds_open_of(user_id=person.pk)[:HOLDS_SHOWN]
            ],
            "months": earnings_statement_months(person.pk, earnings=earnings),
        },
    )


@login_required
@require_GET
def my_earnings(request: HttpRequest) -> HttpResponse:
    """The signed-in person's Earnings page (`?month=YYYY-MM` for an earlier month's lines)."""
    return _page(request, get_object_or_404(User, pk=request.user.pk))


@login_required
@require_GET
def person_earnings(request: HttpRequest, person_id: int) -> HttpResponse:
    """A person's Earnings page: their own, or anyone's for finance."""
    return _page(request, earnings_person_or_404(request.user, person_id))


@login_required
@require_GET
def statement_page(request: HttpRequest, person_id: int, month: str) -> HttpResponse:
    """The printable statement of a month."""
    person = earnings_person_or_404(request.user, person_id)
    statement = earnings_statement(person.pk, month=month)
    if statement is None:
        raise Http404
    return render(
        request,
        "payments/earnings/statement.html",
        {"person": person, "statement": statement, "generated_at": timezone.now()},
    )


@login_required
@require_GET
def statement_csv(request: HttpRequest, person_id: int, month: str) -> HttpResponse:
    """The statement of a month as CSV (amounts as exact decimal text and integer micro-units)."""
    person = earnings_person_or_404(request.user, person_id)
    statement = earnings_statement(person.pk, month=month)
    if statement is None:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="quorum-statement-{person.pk}-{statement.month}.csv"'
    )
    writer = csv.writer(response)
    for row in statement_csv_rows(statement):
        writer.writerow(row)
    return response


@login_required
@require_GET
def bonus_figures(request: HttpRequest, line_id: int) -> HttpResponse:
    """Why a bonus paid what it paid: the program version, the figures, each threshold."""
    line = get_object_or_404(
        IncentiveBonusLine.objects.select_related("period__program", "version", "transaction"),
        pk=line_id,
    )
    earnings_person_or_404(request.user, line.user_id)
    checks = [check_text(check) for check in line.figures.get("checks", [])]
    return render(
        request,
        "payments/earnings/bonus.html",
        {"line": line, "reason": bonus_reason(line), "checks": checks},
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("earnings/", my_earnings, name="earnings"),
    path("earnings/people/<id:person_id>/", person_earnings, name="person_earnings"),
    path(
        "earnings/people/<id:person_id>/statements/<str:month>/",
        statement_page,
        name="earnings_statement",
    ),
    path(
        "earnings/people/<id:person_id>/statements/<str:month>/csv/",
        statement_csv,
        name="earnings_statement_csv",
    ),
    path("earnings/bonuses/<id:line_id>/", bonus_figures, name="earnings_bonus"),
]
