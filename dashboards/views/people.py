"""The person-centric manager dashboards (wired into dashboards/urls.py): the people table, a
person's page and the teams side by side, each with its CSV download.

Managers and administrators only (Action.PEOPLE_VIEW); every read goes through
`dashboards.people_selectors`, scoped as quality's performance selectors say: a person outside a
manager's teams is not found. The actions next to the evidence post to workforce's own pages
(status, tier), which check the scope and the rules again; message and retrain post here and
call workforce's and quality's services, which check them too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import require_action
from accounts.policy import Action, can
from accounts.selectors import request_user
from core.converters import MAX_ID
from core.errors import NotFound, QuorumError, ValidationFailed
from core.forms import form_add_error
from dashboards import people_selectors as selectors
from dashboards.people_selectors import (
    MAIN_MEASURES,
    PERIODS,
    PeopleFilters,
    Period,
    PersonRow,
)
from quality.performance.definitions import DEFINITIONS, MEASURE_NAMES, Definition
from quality.performance.selectors import MeasureRow
from quality.retrain_forms import RetrainForm
from quality.services.retraining import person_retrain
from workforce.forms import StatusForm
from workforce.message_forms import MessageForm
from workforce.models import AnnotatorStatus
from workforce.selectors.onboarding_steps import journey_state_choices
from workforce.selectors.teams import people_managed_by
from workforce.services.messages import person_message_send
from workforce.tier_forms import TierMoveForm

SPARK_WIDTH = 120
SPARK_HEIGHT = 24


# --- Reading the query ------------------------------------------------------------------------


def _int_param(query: QueryDict, name: str) -> int | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        message = "Choose one from the list."
        raise ValidationFailed(f"{name}: {message}", fields={name: [message]})
    return int(raw)


def period_from(query: QueryDict) -> Period:
    """The period the query asks for (see `people_selectors.period_of`)."""
    return selectors.period_of(
        query.get("period") or None,
        since=query.get("since") or None,
        until=query.get("until") or None,
        now=timezone.now(),
    )


def filters_from(query: QueryDict) -> PeopleFilters:
    standing = query.get("standing", "").strip() or None
    if standing is not None and standing not in dict(journey_state_choices()):
        message = "Choose one from the list."
        raise ValidationFailed(f"standing: {message}", fields={"standing": [message]})
    return PeopleFilters(
        team_id=_int_param(query, "team"),
        project_id=_int_param(query, "project"),
        skill_id=_int_param(query, "skill"),
        standing=standing,
    )


def _page_number(query: QueryDict) -> int:
    raw = query.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _error_fields(exc: ValidationFailed) -> dict[str, str]:
    fields = exc.extra.get("fields", {})
    return {name: messages[0] for name, messages in fields.items()}


# --- Rendering helpers -------------------------------------------------------------------------


def sparkline_points(
    values: Sequence[int], *, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT
) -> str:
    """The SVG polyline points of `values` scaled into width x height (drawn server-side, so a
    table of 50 people needs no script); a flat line at the bottom when all are 0."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (value / top) * (height - 2):.1f}"
        for i, value in enumerate(values)
    )


def measure_display(definition: Definition, value: float | int | None) -> str:
    """A measure as the pages show it: shares in per cent, seconds and rates with one decimal,
    money in minor units as stored, counts as whole numbers; "—" where it is undefined."""
    if value is None:
        return "—"
    if definition.unit == "share (0..1)":
        return f"{value * 100:.1f}%"
    if isinstance(value, int):
        return f"{value:,}"
    if definition.unit == "seconds":
        return f"{value:.1f} s"
    return f"{value:,.2f}"


def measure_cells(measures: dict[str, float | int | None]) -> list[str]:
    return [measure_display(d, measures[d.name]) for d in DEFINITIONS]


def _query_without(query: QueryDict, *names: str) -> str:
    kept = query.copy()
    for name in names:
        kept.pop(name, None)
    return kept.urlencode()


def _columns(query: QueryDict, sort: str) -> list[dict[str, Any]]:
    """The table's measure headings, each a link that sorts by it (again: the other way)."""
    base = _query_without(query, "sort", "page")
    columns = []
    for definition in DEFINITIONS:
        name = definition.name
        if sort == f"-{name}":
            state, next_sort = "descending", name
        elif sort == name:
            state, next_sort = "ascending", f"-{name}"
        else:
            state, next_sort = "", f"-{name}"
        columns.append(
            {
                "name": name,
                "heading": definition.label,
                "unit": definition.unit,
                "state": state,
                "url": f"?{base}&sort={next_sort}" if base else f"?sort={next_sort}",
            }
        )
    return columns


def _csv_text(value: Any) -> str:
    """A cell as text; text a spreadsheet would run as a formula is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_response(header: list[str], rows: Iterable[list[Any]], filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def person_csv_rows(rows: Iterable[PersonRow]) -> Iterable[list[Any]]:
    for row in rows:
        yield [
            row.user_id,
            row.name,
            row.team,
            row.standing,
            *(row.measures[name] for name in MEASURE_NAMES),
        ]


PEOPLE_CSV_HEADER = ["person", "name", "team", "standing", *MEASURE_NAMES]


def _period_context(query: QueryDict, period: Period | None) -> dict[str, Any]:
    return {
        "periods": list(PERIODS.items()),
        "period_key": period.key if period else (query.get("period") or "7d"),
        "since": query.get("since", ""),
        "until": query.get("until", ""),
        "period": period,
    }


# --- The people table ---------------------------------------------------------------------------


@require_action(Action.PEOPLE_VIEW)
@require_GET
def people(request: HttpRequest) -> HttpResponse:
    """Every person in the manager's scope with work in the period, all measures, sortable and
    filterable, 50 a page, with a sparkline of their final tasks per day."""
    query = request.GET
    choices = selectors.people_filter_choices(request.user)
    context: dict[str, Any] = {
        "choices": choices,
        "filters": query,
        "csv_query": _query_without(query, "page"),
    }
    try:
        period = period_from(query)
        filters = filters_from(query)
        sort = selectors.sort_of(query.get("sort"))
    except ValidationFailed as exc:
        context.update(_period_context(query, None))
        context["errors"] = _error_fields(exc)
        return render(request, "dashboards/people.html", context, status=400)
    table = selectors.people_table(
        request.user, period=period, filters=filters, sort=sort, page=_page_number(query)
    )
    context.update(_period_context(query, period))
    context.update(
        {
            "table": table,
            "rows": [
                (row, sparkline_points(row.sparkline), measure_cells(row.measures))
                for row in table.rows
            ],
            "columns": _columns(query, table.sort),
            "page_query": _query_without(query, "page"),
            "spark_width": SPARK_WIDTH,
            "spark_height": SPARK_HEIGHT,
        }
    )
    return render(request, "dashboards/people.html", context)


@require_action(Action.PEOPLE_VIEW)
@require_GET
def people_csv(request: HttpRequest) -> HttpResponse:
    """The people table's rows (every page, the same order and filters) as CSV."""
    query = request.GET
    try:
        period = period_from(query)
        filters = filters_from(query)
        sort = selectors.sort_of(query.get("sort"))
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    rows = selectors.people_table_all(request.user, period=period, filters=filters, sort=sort)
    return _csv_response(PEOPLE_CSV_HEADER, person_csv_rows(rows), "people.csv")


# --- A person's page ------------------------------------------------------------------------------


def _not_found(person_id: int) -> NotFound:
    """The answer for a person one may not see: the same as for one who does not exist."""
    return NotFound("No such person.", extra={"person": person_id})


def _person_response(
    request: HttpRequest,
    person_id: int,
    *,
    message_form: MessageForm | None = None,
    retrain_form: RetrainForm | None = None,
) -> HttpResponse:
    query = request.GET
    try:
        period = period_from(query)
    except ValidationFailed as exc:
        period = period_from(QueryDict(""))
        errors = _error_fields(exc)
    else:
        errors = {}
    page = selectors.person_page(request.user, person_id=person_id, period=period)
    may_act = can(request.user, Action.PEOPLE_MANAGE) and person_id != request.user.pk
    context = {
        **_period_context(query, period),
        "errors": errors,
        "page": page,
        "measures": [(d, measure_display(d, page.total[d.name])) for d in DEFINITIONS],
        "chart": page.series.as_chart(),
        "may_act": may_act,
        "suspend_form": StatusForm(
            initial={"status": AnnotatorStatus.SUSPENDED, "reason": "See the performance page."}
        ),
        "tier_form": TierMoveForm(),
        "message_form": message_form or MessageForm(),
        "retrain_form": retrain_form or RetrainForm(manager=request.user),
        "period_query": _query_without(query, "page"),
    }
    invalid = errors or (message_form is not None) or (retrain_form is not None)
    return render(request, "dashboards/person.html", context, status=400 if invalid else 200)


@login_required
@require_GET
def person(request: HttpRequest, person_id: int) -> HttpResponse:
    """One person's measures over time with their recent rule actions and reviews, and the
    actions a manager takes next to the evidence; 404 outside the manager's scope, and for
    anyone without people to manage (their own figures are on "My performance")."""
    if not can(request.user, Action.PEOPLE_VIEW):
        if person_id == request.user.pk:
            return redirect("dashboards:my_performance")
        raise _not_found(person_id)
    return _person_response(request, person_id)


@require_action(Action.PEOPLE_MANAGE)
@require_POST
def person_message(request: HttpRequest, person_id: int) -> HttpResponse:
    """Send the person a message (the form on their page); back to their page."""
    person = get_object_or_404(people_managed_by(request.user), pk=person_id)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            person_message_send(actor=request_user(request), person=person, **form.cleaned_data)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, f"Message sent to {person.email}.")
            return redirect("dashboards:person", person_id=person.pk)
    return _person_response(request, person.pk, message_form=form)


@require_action(Action.PEOPLE_MANAGE)
@require_POST
def person_retrain_view(request: HttpRequest, person_id: int) -> HttpResponse:
    """Send the person back to training (the form on their page); back to their page."""
    person = get_object_or_404(people_managed_by(request.user), pk=person_id)
    form = RetrainForm(request.POST, manager=request.user)
    if form.is_valid():
        try:
            person_retrain(
                manager=request_user(request),
                user=person,
                project_id=form.cleaned_data["project"],
                reason=form.cleaned_data["reason"],
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(
                request,
                f"{person.email} is sent back to training; they are told why. Lift the action "
                "below when they have retrained.",
            )
            return redirect("dashboards:person", person_id=person.pk)
    return _person_response(request, person.pk, retrain_form=form)


PERSON_CSV_HEADER = ["day", *MEASURE_NAMES]


@login_required
@require_GET
def person_csv(request: HttpRequest, person_id: int) -> HttpResponse:
    """The person's measures per day over the period (days with work), as CSV; not found
    outside the scope, as the page (a person downloads their own from "My performance")."""
    if not can(request.user, Action.PEOPLE_VIEW) and person_id != request.user.pk:
        raise _not_found(person_id)
    try:
        period = period_from(request.GET)
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    daily, _ = selectors.person_series(request.user, person_id=person_id, period=period)
    rows = (
        [row.period_start.date().isoformat(), *(row.measures[n] for n in MEASURE_NAMES)]
        for row in daily
    )
    return _csv_response(PERSON_CSV_HEADER, rows, f"person-{person_id}.csv")


# --- Teams side by side ---------------------------------------------------------------------------


def team_csv_rows(rows: Iterable[MeasureRow]) -> Iterable[list[Any]]:
    for row in rows:
        yield [row.subject, row.name, *(row.measures[name] for name in MEASURE_NAMES)]


TEAMS_CSV_HEADER = ["team", "name", *MEASURE_NAMES]


@require_action(Action.PEOPLE_VIEW)
@require_GET
def teams(request: HttpRequest) -> HttpResponse:
    """The manager's teams side by side on the main measures over the period: chart and table."""
    query = request.GET
    try:
        period = period_from(query)
        sort = selectors.sort_of(query.get("sort"))
    except ValidationFailed as exc:
        context = {**_period_context(query, None), "errors": _error_fields(exc)}
        return render(request, "dashboards/teams.html", context, status=400)
    rows = selectors.teams_compared(request.user, period=period, sort=sort)
    main = selectors.definitions_of(MAIN_MEASURES)
    context = {
        **_period_context(query, period),
        "rows": [(row, [measure_display(d, row.measures[d.name]) for d in main]) for row in rows],
        "main": main,
        "idle_teams": selectors.teams_without_work(request.user, rows),
        "chart": {
            "teams": [row.name or f"#{row.subject}" for row in rows],
            "final_tasks_per_active_hour": [
                row.measures["final_tasks_per_active_hour"] for row in rows
            ],
            "gold_accuracy": [row.measures["gold_accuracy"] for row in rows],
            "review_pass_rate": [row.measures["review_pass_rate"] for row in rows],
        },
        "csv_query": query.urlencode(),
    }
    return render(request, "dashboards/teams.html", context)


@require_action(Action.PEOPLE_VIEW)
@require_GET
def teams_csv(request: HttpRequest) -> HttpResponse:
    try:
        period = period_from(request.GET)
        sort = selectors.sort_of(request.GET.get("sort"))
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    rows = selectors.teams_compared(request.user, period=period, sort=sort)
    return _csv_response(TEAMS_CSV_HEADER, team_csv_rows(rows), "teams.csv")


urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboards/people/", people, name="people"),
    path("dashboards/people.csv", people_csv, name="people_csv"),
    path("dashboards/people/<id:person_id>/", person, name="person"),
    path("dashboards/people/<id:person_id>/days.csv", person_csv, name="person_csv"),
    path("dashboards/people/<id:person_id>/message/", person_message, name="person_message"),
    path("dashboards/people/<id:person_id>/retrain/", person_retrain_view, name="person_retrain"),
    path("dashboards/teams/", teams, name="teams"),
    path("dashboards/teams.csv", teams_csv, name="teams_csv"),
]
