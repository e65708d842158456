"""Portal pages of payout runs (wired into payments/urls.py): finance lists runs, creates one,
reviews its items and exclusions with the provider's balance, approves (a second finance user),
cancels, watches the progress bar, retries failed items, marks bank-file items, downloads a
bank-file run's payment file and uploads the bank's report, and reads the reconciliation; a
person reads their own payout history with expected arrival dates."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError
from core.forms import form_add_error
from kit.money import CURRENCY_EXPONENTS
from payments.models import PayoutItemStatus, PayoutProvider, PayoutRun, PayoutRunStatus
from payments.providers import payout_provider_for
from payments.selectors.payout_runs import (
    minor_display,
    payout_exclusions_of,
    payout_item_expected_arrival,
    payout_items_visible_to,
    payout_run_freeze_percent,
    payout_run_progress,
    payout_runs_visible_to,
    payout_runs_with_differences,
)
from payments.services.bank_file_runs import (
    BANK_REPORT_MAX_BYTES,
    payout_run_bank_file,
    payout_run_bank_results_apply,
)
from payments.services.payout_runs import (
    payout_item_mark_failed,
    payout_item_mark_paid,
    payout_item_retry,
    payout_run_approve,
    payout_run_cancel,
    payout_run_create,
    payout_runs_reconcile,
)

logger = logging.getLogger(__name__)
ITEMS_PER_PAGE = 100
LIVE_STATUSES = (PayoutRunStatus.DRAFT, PayoutRunStatus.APPROVED, PayoutRunStatus.EXECUTING)


def _finance(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    @login_required
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can(request.user, Action.PAYOUT_RUNS_VIEW):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


class PayoutRunForm(forms.Form):
    currency = forms.ChoiceField(choices=[(c, c) for c in sorted(CURRENCY_EXPONENTS)])
    provider = forms.ChoiceField(choices=PayoutProvider.choices)
    period_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500)


class BankResultsForm(forms.Form):
    file = forms.FileField(
        label="The bank's report (CSV)",
        help_text="Columns reference, status (paid or failed) and optionally message; at most "
        f"{BANK_REPORT_MAX_BYTES // (1024 * 1024)} MB. Nothing is applied unless every line is.",
    )


def _run(request: HttpRequest, run_id: int) -> PayoutRun:
    run = payout_runs_visible_to(request.user).filter(pk=run_id).first()
    if run is None:
        raise Http404
    return run


@_finance
@require_http_methods(["GET", "POST"])
def payout_runs(request: HttpRequest) -> HttpResponse:
    """Every run, newest first, and the form that creates one (finance with MFA)."""
    form = PayoutRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = payout_run_create(actor=request_user(request), **form.cleaned_data)
        except QuorumError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, f"Payout run {run.pk} is being frozen.")
            return redirect("payments:payout_run", run_id=run.pk)
    page = Paginator(payout_runs_visible_to(request.user), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/payout_runs/list.html",
        {"form": form, "page": page, "alerts": payout_runs_with_differences().count()},
    )


def _balance_check(run: PayoutRun) -> dict[str, Any] | None:
    """The provider's available balance against what the run still has to pay."""
    if run.status not in (PayoutRunStatus.FROZEN, PayoutRunStatus.APPROVED):
        return None
    provider = payout_provider_for(run.provider)
    if not provider.executes_itself:
        return None
    try:
        available = provider.available_balance_minor(run.currency)
    except Exception as exc:
        logger.warning("payout run %s: balance check failed: %s", run.pk, exc)
        return {"error": str(exc)[:300]}
    if available is None:
        return None
    return {
        "available": minor_display(available, run.currency),
        "needed": minor_display(run.frozen_total_minor, run.currency),
        "enough": available >= run.frozen_total_minor,
    }


def _detail_context(
    request: HttpRequest,
    run: PayoutRun,
    *,
    results_form: BankResultsForm | None = None,
    results_errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status = request.GET.get("status", "")
    items = run.items.select_related("person").order_by("pk")
    if status in PayoutItemStatus.values:
        items = items.filter(status=status)
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    user = request_user(request)
    progress = payout_run_progress(run)
    is_bank_file = run.provider == PayoutProvider.BANK_FILE and run.status in (
        PayoutRunStatus.EXECUTING,
        PayoutRunStatus.DONE,
    )
    return {
        "run": run,
        "page": page,
        "status": status,
        "statuses": PayoutItemStatus.choices,
        "progress": progress,
        "freeze_percent": payout_run_freeze_percent(run),
        "exclusions": payout_exclusions_of(run)[:500],
        "balance": _balance_check(run),
        "live": run.status in LIVE_STATUSES and not is_bank_file,
        "can_manage": can(user, Action.PAYOUT_RUNS_MANAGE),
        "may_approve": run.status == PayoutRunStatus.FROZEN and run.created_by_id != user.pk,
        "total_display": minor_display(run.frozen_total_minor, run.currency),
        "is_bank_file": is_bank_file,
        "awaiting_bank_file": progress.counts.get(PayoutItemStatus.AWAITING_BANK_FILE, 0),
        "results_form": results_form if results_form is not None else BankResultsForm(),
        "results_errors": results_errors or [],
    }


@_finance
@require_GET
def payout_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """One run: progress, its items (filtered by status), exclusions and what can be done."""
    run = _run(request, run_id)
    return render(request, "payments/payout_runs/detail.html", _detail_context(request, run))


@_finance
@require_GET
def payout_run_bank_file_view(request: HttpRequest, run_id: int) -> HttpResponse:
    """Download the run's payment file (`?format=csv` or `pain001`), made for this download."""
    run = _run(request, run_id)
    try:
        made = payout_run_bank_file(
            run=run, actor=request_user(request), fmt=str(request.GET.get("format", ""))
        )
    except QuorumError as exc:
        messages.error(request, exc.message)
        return redirect("payments:payout_run", run_id=run.pk)
    response = HttpResponse(made.content, content_type=made.content_type)
    response["Content-Disposition"] = content_disposition_header(True, made.filename)
    response["Cache-Control"] = "no-store"
    return response


@_finance
@require_POST
def payout_run_bank_results_view(request: HttpRequest, run_id: int) -> HttpResponse:
    """Apply the bank's report; a refused report shows each bad line next to the file field."""
    run = _run(request, run_id)
    form = BankResultsForm(request.POST, request.FILES)
    errors: list[dict[str, Any]] = []
    if form.is_valid():
        # One byte more than the limit is enough for the service to refuse a larger file.
        data = form.cleaned_data["file"].read(BANK_REPORT_MAX_BYTES + 1)
        try:
            applied = payout_run_bank_results_apply(run=run, actor=request_user(request), data=data)
        except QuorumError as exc:
            form_add_error(form, exc)
            errors = list(exc.extra.get("errors", []))
        else:
            messages.success(
                request,
                f"The bank's report was applied: {len(applied.paid)} paid, "
                f"{len(applied.failed)} failed, {len(applied.repeated)} already settled as the "
                "report says (unchanged).",
            )
            return redirect("payments:payout_run", run_id=run.pk)
    run.refresh_from_db()
    context = _detail_context(request, run, results_form=form, results_errors=errors)
    return render(request, "payments/payout_runs/detail.html", context)


def _act(request: HttpRequest, run_id: int, act: Callable[[], object], done: str) -> HttpResponse:
    try:
        act()
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("payments:payout_run", run_id=run_id)


@_finance
@require_POST
def payout_run_approve_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    return _act(
        request,
        run.pk,
        lambda: payout_run_approve(run_id=run.pk, actor=request_user(request)),
        "Approved: the run is being paid.",
    )


@_finance
@require_POST
def payout_run_cancel_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    reason = ReasonForm(request.POST).data.get("reason", "")
    return _act(
        request,
        run.pk,
        lambda: payout_run_cancel(run_id=run.pk, actor=request_user(request), reason=str(reason)),
        "Cancelled: every amount is back in payable.",
    )


def _item_of(request: HttpRequest, run: PayoutRun, item_id: int) -> int:
    if not run.items.filter(pk=item_id).exists():
        raise Http404
    return item_id


@_finance
@require_POST
def payout_item_retry_view(request: HttpRequest, run_id: int, item_id: int) -> HttpResponse:
    run = _run(request, run_id)
    item_id = _item_of(request, run, item_id)
    return _act(
        request,
        run.pk,
        lambda: payout_item_retry(item_id=item_id, actor=request_user(request)),
        f"Item {item_id} is tried again with a new attempt.",
    )


@_finance
@require_POST
def payout_item_mark_paid_view(request: HttpRequest, run_id: int, item_id: int) -> HttpResponse:
    run = _run(request, run_id)
    item_id = _item_of(request, run, item_id)
    reference = str(request.POST.get("reference", ""))[:255]
    return _act(
        request,
        run.pk,
        lambda: payout_item_mark_paid(
            item_id=item_id, actor=request_user(request), reference=reference
        ),
        f"Item {item_id} marked paid.",
    )


@_finance
@require_POST
def payout_item_mark_failed_view(request: HttpRequest, run_id: int, item_id: int) -> HttpResponse:
    run = _run(request, run_id)
    item_id = _item_of(request, run, item_id)
    reason = str(request.POST.get("reason", ""))[:500]
    return _act(
        request,
        run.pk,
        lambda: payout_item_mark_failed(
            item_id=item_id, actor=request_user(request), reason=reason
        ),
        f"Item {item_id} marked failed; its amount is back in payable.",
    )


@_finance
@require_http_methods(["GET", "POST"])
def payout_runs_reconciliation(request: HttpRequest) -> HttpResponse:
    """The last check of every run against the ledger and the provider, and checking now."""
    if request.method == "POST":
        if not can(request.user, Action.PAYOUT_RUNS_MANAGE):
            raise PermissionDenied
        found = payout_runs_reconcile()
        count = sum(len(v) for v in found.values())
        messages.success(request, f"Checked {len(found)} runs: {count} differences.")
        return redirect("payments:payout_runs_reconciliation")
    runs = payout_runs_visible_to(request.user).exclude(status=PayoutRunStatus.CANCELLED)
    return render(
        request, "payments/payout_runs/reconciliation.html", {"runs": runs.order_by("-pk")[:200]}
    )


@login_required
@require_GET
def my_payouts(request: HttpRequest) -> HttpResponse:
    """The person's payouts, newest first: amount, status, expected arrival, and why a payout
    failed or came back."""
    items = payout_items_visible_to(request.user).filter(person_id=request.user.pk)
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    rows = [
        {
            "item": item,
            "amount": minor_display(item.amount_minor, item.run.currency),
            "arrival": payout_item_expected_arrival(item),
        }
        for item in page
    ]
    return render(request, "payments/payout_runs/mine.html", {"page": page, "rows": rows})


urlpatterns: list[URLPattern | URLResolver] = [
    path("finance/payout-runs/", payout_runs, name="payout_runs"),
    path(
        "finance/payout-runs/reconciliation/",
        payout_runs_reconciliation,
        name="payout_runs_reconciliation",
    ),
    path("finance/payout-runs/<id:run_id>/", payout_run, name="payout_run"),
    path(
        "finance/payout-runs/<id:run_id>/approve/",
        payout_run_approve_view,
        name="payout_run_approve",
    ),
    path(
        "finance/payout-runs/<id:run_id>/cancel/", payout_run_cancel_view, name="payout_run_cancel"
    ),
    path(
        "finance/payout-runs/<id:run_id>/bank-file/",
        payout_run_bank_file_view,
        name="payout_run_bank_file",
    ),
    path(
        "finance/payout-runs/<id:run_id>/bank-results/",
        payout_run_bank_results_view,
        name="payout_run_bank_results",
    ),
    path(
        "finance/payout-runs/<id:run_id>/items/<id:item_id>/retry/",
        payout_item_retry_view,
        name="payout_item_retry",
    ),
    path(
        "finance/payout-runs/<id:run_id>/items/<id:item_id>/mark-paid/",
        payout_item_mark_paid_view,
        name="payout_item_mark_paid",
    ),
    path(
        "finance/payout-runs/<id:run_id>/items/<id:item_id>/mark-failed/",
        payout_item_mark_failed_view,
        name="payout_item_mark_failed",
    ),
    path("payouts/", my_payouts, name="my_payouts"),
]
