"""The ledger explorer of finance: transactions with their entries, and balances. Read-only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.policy import Action, can
from payments.forms import LedgerFilterForm
from payments.policy import ledger_accounts_visible_to, ledger_transactions_visible_to

PER_PAGE = 50


@login_required
@require_GET
def ledger_explorer(request: HttpRequest) -> HttpResponse:
    """Transactions, newest first, filtered by person, account and source key (finance only)."""
    if not can(request.user, Action.LEDGER_VIEW):
        raise PermissionDenied
    form = LedgerFilterForm(request.GET or None)
    transactions = ledger_transactions_visible_to(request.user).order_by("-pk")
    if form.is_valid():
        data = form.cleaned_data
        if data["person"]:
            transactions = transactions.filter(entries__account__user_id=data["person"])
        if data["account"]:
            transactions = transactions.filter(entries__account_id=data["account"])
        if data["source"]:
            transactions = transactions.filter(source_key__startswith=data["source"])
        transactions = transactions.distinct()
    page = Paginator(transactions, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "payments/ledger.html", {"form": form, "page": page})


@login_required
@require_GET
def ledger_balances(request: HttpRequest) -> HttpResponse:
    """Every account with its balance now (finance only)."""
    if not can(request.user, Action.LEDGER_VIEW):
        raise PermissionDenied
    accounts = ledger_accounts_visible_to(request.user)
    page = Paginator(accounts, PER_PAGE * 4).get_page(request.GET.get("page"))
    return render(request, "payments/balances.html", {"page": page})
