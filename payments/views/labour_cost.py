"""Label quality per cost: managers see, for the projects they manage, what the work cost next
to what it produced and how good it was."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.policy import Action, can
from payments.selectors.labour_cost import labour_cost_rows

SPANS = {"7": 7, "28": 28, "90": 90}


@login_required
@require_GET
def labour_cost(request: HttpRequest) -> HttpResponse:
    """Cost per final task and per project next to quality, over the last 7, 28 or 90 days."""
    if not can(request.user, Action.LABOUR_COST_VIEW):
        raise PermissionDenied
    days = SPANS.get(request.GET.get("days", "28"), 28)
    until = timezone.now()
    rows = labour_cost_rows(request.user, since=until - timedelta(days=days), until=until)
    return render(
        request,
        "payments/labour_cost.html",
        {"rows": rows, "days": days, "spans": sorted(SPANS.values())},
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("labour-cost/", labour_cost, name="labour_cost"),
]
