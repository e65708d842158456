"""Finance's holds pages: held earnings with filters, releasing or forfeiting one with a reason,
and disputes of tasks (wired into payments/urls.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_GET, require_POST

from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from labeling.models import Project
from payments.hold_forms import DisputeOpenForm, HoldFilterForm, HoldResolveForm
from payments.models import Hold, TaskDispute
from payments.selectors.holds import (
    disputes_open,
    hold_evidence,
    hold_get,
    holds_list,
    rule_actions_openable_by,
)
from payments.services.holds import (
    hold_forfeit,
    hold_release,
    task_dispute_close,
    task_dispute_open,
)

PER_PAGE = 50


def _require_manage(request: HttpRequest) -> None:
    if not can(request.user, Action.HOLDS_MANAGE):
        raise PermissionDenied


def _list_context(request: HttpRequest, dispute_form: DisputeOpenForm) -> dict[str, object]:
    form = HoldFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    state = data.get("state") or "open"
    holds = holds_list(
        is_open={"open": True, "resolved": False}.get(state),
        cause=data.get("cause") or "",
        user_id=data.get("person"),
        project_id=data.get("project"),
    )
    page = Paginator(holds, PER_PAGE).get_page(request.GET.get("page"))
    openable = rule_actions_openable_by(request.user, page)
    return {
        "form": form,
        "page": page,
        # Each hold with the evidence of a discounted one, and whether the viewer may open its
        # rule action on the Quality pages (finance sees the figures here either way).
        "rows": [(hold, hold_evidence(hold), hold.rule_action_id in openable) for hold in page],
        "resolve_form": HoldResolveForm(),
        "dispute_form": dispute_form,
        "disputes": disputes_open()[:100],
        "current": "holds",
    }


@login_required
@require_GET
def holds(request: HttpRequest) -> HttpResponse:
    """Held earnings, newest first (open ones by default), and the open disputes of tasks."""
    _require_manage(request)
    return render(request, "payments/holds/list.html", _list_context(request, DisputeOpenForm()))


def _hold_or_404(hold_id: int) -> Hold:
    try:
        return hold_get(pk=hold_id)
    except Hold.DoesNotExist:
        raise Http404 from None


def _resolve(request: HttpRequest, hold_id: int, *, release: bool) -> HttpResponse:
    _require_manage(request)
    hold = _hold_or_404(hold_id)
    form = HoldResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason (at most 500 characters).")
        return redirect("payments:holds")
    service = hold_release if release else hold_forfeit
    try:
        service(hold=hold, actor=request_user(request), reason=form.cleaned_data["reason"])
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        done = (
            "released: the earning is payable" if release else "forfeited: the earning is reversed"
        )
        messages.success(request, f"Hold {hold.pk} {done}.")
    return redirect("payments:holds")


@login_required
@require_POST
def hold_release_view(request: HttpRequest, hold_id: int) -> HttpResponse:
    """Release a hold with a reason (finance, MFA)."""
    return _resolve(request, hold_id, release=True)


@login_required
@require_POST
def hold_forfeit_view(request: HttpRequest, hold_id: int) -> HttpResponse:
    """Forfeit a hold with a reason (finance, MFA)."""
    return _resolve(request, hold_id, release=False)


@login_required
@require_POST
def dispute_open_view(request: HttpRequest) -> HttpResponse:
    """Put a task under dispute (finance, MFA); errors are shown next to their field."""
    _require_manage(request)
    form = DisputeOpenForm(request.POST)
    if form.is_valid():
        project = Project.objects.filter(pk=form.cleaned_data["project"]).first()
        if project is None:
            form.add_error("project", "There is no such project.")
        else:
            try:
                dispute = task_dispute_open(
                    project=project,
                    task_id=form.cleaned_data["task_id"],
                    reason=form.cleaned_data["reason"],
                    actor=request_user(request),
                )
            except QuorumError as exc:
                form_add_error(form, exc)
            else:
                messages.success(
                    request, f"Task {dispute.task_id} is under dispute: its pay is held."
                )
                return redirect("payments:holds")
    return render(request, "payments/holds/list.html", _list_context(request, form), status=400)


@login_required
@require_POST
def dispute_close_view(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """Close a dispute (finance, MFA); held earnings stay held until resolved one by one."""
    _require_manage(request)
    dispute = TaskDispute.objects.filter(pk=dispute_id).first()
    if dispute is None:
        raise Http404
    try:
        task_dispute_close(dispute=dispute, actor=request_user(request))
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The dispute of task {dispute.task_id} is closed.")
    return redirect("payments:holds")


urlpatterns: list[URLPattern | URLResolver] = [
    path("finance/holds/", holds, name="holds"),
    path("finance/holds/<id:hold_id>/release/", hold_release_view, name="hold_release"),
    path("finance/holds/<id:hold_id>/forfeit/", hold_forfeit_view, name="hold_forfeit"),
    path("finance/disputes/", dispute_open_view, name="dispute_open"),
    path("finance/disputes/<id:dispute_id>/close/", dispute_close_view, name="dispute_close"),
]
