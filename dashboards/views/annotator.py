"""The annotator dashboards (wired into dashboards/urls.py): "My performance", a person's own
measures over time against the thresholds that matter to them (probation, promotion, quality
rules, and incentives once payments has them), with the same definitions as every other page.

Only oneself: there is no id in the URL, and quality's scope (person_measures_get) is asked for
the signed-in person. Another person's page (dashboards:person) is not found for anyone without
people to manage.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import require_action
from accounts.policy import Action
from accounts.selectors import request_user
from core.errors import ValidationFailed
from dashboards import people_selectors as selectors
from dashboards.people_selectors import MAIN_MEASURES
from dashboards.views.people import measure_display, period_from
from quality.performance.definitions import counters_sum, measures_of
from quality.selectors import standing_summary_of


def _thresholds(standing: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines drawn over the accuracy chart: probation's pass line (while on probation) and
    the next tier's (lower bounds of the 95% interval of accuracy must be above them)."""
    lines = []
    probation = standing.get("probation")
    if probation:
        lines.append({"label": "Probation: pass line", "value": probation["pass_low_above"]})
        lines.append({"label": "Probation: floor", "value": probation["floor_high_below"]})
    next_tier = standing.get("next_tier")
    if next_tier:
        lines.append(
            {
                "label": f"{next_tier['tier_label']}: needed",
                "value": next_tier["needs"]["accuracy_low_at_least"],
            }
        )
    return lines


@login_required
@require_action(Action.WORK_LABEL)
@require_GET
def my_performance(request: HttpRequest) -> HttpResponse:
    """The signed-in person's measures over the period, by day, against their thresholds."""
    query = request.GET
    try:
        period = period_from(query)
        errors: dict[str, str] = {}
    except ValidationFailed as exc:
        period = period_from(QueryDict(""))
        errors = {k: v[0] for k, v in exc.extra.get("fields", {}).items()}
    user = request_user(request)
    daily, series = selectors.person_series(user, person_id=user.pk, period=period)
    total = measures_of(counters_sum([row.counters for row in daily]))
    standing = standing_summary_of(user=user, now=timezone.now())
    chart = {**series.as_chart(), "thresholds": _thresholds(standing)}
    projects = selectors.projects_worked_in(user=user, period=period)
    context = {
        "periods": list(selectors.PERIODS.items()),
        "period_key": period.key,
        "since": query.get("since", ""),
        "until": query.get("until", ""),
        "period": period,
        "errors": errors,
        "measures": [
            (d, measure_display(d, total[d.name])) for d in selectors.definitions_of(MAIN_MEASURES)
        ],
        "chart": chart,
        "standing": standing,
        "rules": selectors.rules_that_apply_to(user=user, project_ids=projects),
        "incentive_thresholds": selectors.incentive_thresholds_of(user=user, at=timezone.now()),
    }
    return render(request, "dashboards/my_performance.html", context, status=400 if errors else 200)


urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboards/me/", my_performance, name="my_performance"),
]
