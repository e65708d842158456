"""Portal pages of the appeals against quality rule actions (namespace "quality"): managers and
administrators list them with their evidence and uphold or reject each.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from quality.forms import AppealDecideForm
from quality.models import AppealStatus
from quality.selectors import (
    appeals_visible_to,
    evidence_visible_to,
)
from quality.services import actions as action_services
from quality.views.access import quality_staff

APPEALS_PER_PAGE = 25


def _render_appeals(
    request: HttpRequest, *, bound: dict[int, AppealDecideForm] | None = None
) -> HttpResponse:
    show = request.GET.get("status", AppealStatus.PENDING)
    appeals = appeals_visible_to(request.user)
    if show in AppealStatus.values:
        appeals = appeals.filter(status=show)
    page = Paginator(appeals, APPEALS_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for appeal in page:
        form = (bound or {}).get(appeal.pk) or AppealDecideForm()
        form.auto_id = f"appeal-{appeal.pk}-%s"
        rows.append((appeal, evidence_visible_to(request.user, appeal.action), form))
    return render(
        request,
        "quality/rules/appeal_list.html",
        {"page": page, "rows": rows, "show": show, "statuses": AppealStatus.choices},
        status=400 if bound else 200,
    )


@quality_staff
@require_GET
def appeal_list(request: HttpRequest) -> HttpResponse:
    """Pending appeals, oldest first, each with its evidence and a form to decide it."""
    return _render_appeals(request)


@quality_staff
@require_POST
def appeal_decide(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """Uphold (reverse the action, restore what it took) or reject an appeal (with a note)."""
    appeal = get_object_or_404(appeals_visible_to(request.user), pk=appeal_id)
    form = AppealDecideForm(request.POST)
    if form.is_valid():
        uphold = form.cleaned_data["decision"] == "uphold"
        try:
            action_services.appeal_decide(
                appeal=appeal,
                manager=request_user(request),
                uphold=uphold,
                note=form.cleaned_data["note"],
            )
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            outcome = "upheld: the action is reversed" if uphold else "rejected: the action stands"
            messages.success(request, f"Appeal #{appeal.pk} is {outcome}.")
            return redirect(reverse("quality:appeal_list"))
    return _render_appeals(request, bound={appeal.pk: form})
