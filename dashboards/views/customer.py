"""The customer dashboards (wired into dashboards/urls.py): a customer's own projects, with
progress, throughput, ETA, quality and cost if priced, and nobody named. Each project links to
its page (dashboards.views.manager.project_page), which a customer sees for their own only.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboards import selectors
from dashboards.views.manager import csv_response
from labeling import policy
from labeling.portal import labeling_access


@labeling_access
@require_GET
def customer_overview(request: HttpRequest) -> HttpResponse:
    """A customer's projects at a glance (customers' users only; staff have the overview)."""
    if not policy.is_customer_user(request.user):
        raise PermissionDenied
    lines = selectors.customer_overview(request.user, now=timezone.now())
    return render(request, "dashboards/customer.html", {"lines": lines})


@labeling_access
@require_GET
def customer_csv(request: HttpRequest) -> HttpResponse:
    """The customer view's figures as CSV."""
    if not policy.is_customer_user(request.user):
        raise PermissionDenied
    lines = selectors.customer_overview(request.user, now=timezone.now())
    header = [
        "project_id",
        "project",
        "tasks_total",
        "tasks_final",
        "remaining",
        "final_tasks_last_24h",
        "eta",
        "status",
        "deadline",
        "final_tasks_7d",
        "gold_accuracy_7d",
        "review_pass_rate_7d",
        "agreement_alpha",
        "cost",
        "cost_per_final_task",
    ]
    rows = []
    for line in lines:
        measures = line.week.measures if line.week is not None else {}
        agreement = line.week.agreement if line.week is not None else None
        rows.append(
            [
                line.project.pk,
                line.project.name,
                line.project.tasks_total,
                line.project.tasks_completed,
                line.pace.remaining,
                line.pace.final_tasks_in_window,
                line.pace.eta,
                line.pace.status.value,
                line.project.deadline,
                measures.get("final_tasks"),
                measures.get("gold_accuracy"),
                measures.get("review_pass_rate"),
                agreement.alpha if agreement is not None else None,
                "; ".join(cost.total_text for cost in line.costs),
                "; ".join(cost.per_final_task_text for cost in line.costs),
            ]
        )
    return csv_response("projects.csv", header, rows)


urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboards/customer/", customer_overview, name="customer"),
    path("dashboards/customer.csv", customer_csv, name="customer_csv"),
]
