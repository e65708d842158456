"""Portal pages of payout accounts: a person's own (status, masked details, a form to add or
change them, the change waiting for confirmation), the confirmation link, and finance's list of
accounts and choice of providers per country (wired into payments/urls.py)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import require_action
from accounts.policy import Action
from accounts.selectors import request_user
from core.errors import NotFound, QuorumError
from core.forms import form_add_error
from payments.bank_validation import IBAN_LENGTHS, SCHEME_FIELDS
from payments.forms import BankDetailsForm, CountryProvidersForm
from payments.models import PayoutAccountStatus, PayoutProvider
from payments.policy import payout_accounts_visible_to
from payments.selectors.payout_accounts import (
    bank_details_current,
    bank_details_pending,
    payout_account_events,
    payout_account_of,
    payout_account_ready,
    payout_account_status_at,
    payout_accounts_in_status_at,
    payout_country_providers_list,
    payout_providers_default,
)
from payments.selectors.stripe_connect import stripe_connect_offered, stripe_connected_account_of
from payments.services.payout_accounts import (
    bank_details_cancel,
    bank_details_confirm,
    bank_details_from_token,
    bank_details_resend,
    bank_details_submit,
    payout_country_providers_reset,
    payout_country_providers_set,
)
from payments.views.stripe_connect import StripeConnectForm
from workforce.selectors import annotator_profile_get

PER_PAGE = 50
HISTORY_SHOWN = 20


# Error reports (e.g. the admins' e-mail of a 500) must not carry bank details.
SENSITIVE_FIELDS = BankDetailsForm.DETAIL_FIELDS


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@require_action(Action.PROFILE_EDIT_OWN)
@require_http_methods(["GET", "POST"])
def payout_account(request: HttpRequest) -> HttpResponse:
    """The person's payout account: status, masked details, history; add or change details."""
    user = request_user(request)
    account = payout_account_of(user)
    profile = annotator_profile_get(user=user)
    op = request.POST.get("op", "submit")
    initial = {
        "country": str(account.country if account else (profile.country if profile else "")),
        "currency": account.currency if account else settings.QUORUM_LEDGER_DEFAULT_CURRENCY,
    }
    form = BankDetailsForm(
        request.POST if request.method == "POST" and op == "submit" else None, initial=initial
    )
    if request.method == "POST":
        try:
            if op == "cancel":
                bank_details_cancel(user=user, actor=user)
                messages.success(request, "The change is cancelled; its link no longer works.")
                return redirect("payments:payout_account")
            if op == "resend":
                bank_details_resend(user=user)
                messages.success(request, f"We sent the confirmation link again to {user.email}.")
                return redirect("payments:payout_account")
            if form.is_valid():
                data = form.cleaned_data
                bank_details_submit(
                    user=user,
                    actor=user,
                    country=data["country"],
                    currency=data["currency"],
                    details={name: data[name] for name in BankDetailsForm.DETAIL_FIELDS},
                )
                messages.success(
                    request,
                    f"We sent a confirmation link to {user.email}. Your new details are used "
                    "only after you follow it.",
                )
                return redirect("payments:payout_account")
        except QuorumError as exc:
            form_add_error(form, exc)
            if op != "submit":
                messages.error(request, exc.message)
    now = timezone.now()
    context = {
        "form": form,
        "account": account,
        "status": payout_account_status_at(account, now) if account else None,
        "statuses": PayoutAccountStatus,
        "readiness": payout_account_ready(user, now),
        "current": bank_details_current(account) if account else None,
        "pending": bank_details_pending(account) if account else None,
        "events": payout_account_events(account)[:HISTORY_SHOWN] if account else [],
        "cooling_off_hours": settings.QUORUM_PAYOUT_COOLING_OFF_HOURS,
        "link_hours": settings.QUORUM_PAYOUT_CONFIRM_LINK_HOURS,
        # The form shows the fields of the chosen country's scheme (bank_details_form.js).
        "iban_countries": ",".join(sorted(IBAN_LENGTHS)),
        "scheme_fields": json.dumps(SCHEME_FIELDS),
        # Stripe Connect (payments/views/stripe_connect.py): its state and the set-up button.
        "stripe": stripe_connected_account_of(user),
        "stripe_offered": stripe_connect_offered(initial["country"]),
        "stripe_form": StripeConnectForm(initial=initial, auto_id="id_stripe_%s"),
    }
    return render(request, "payments/payout_account.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def payout_account_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the e-mail: shows the masked details and confirms them on a button press (a
    link scanner that follows the link confirms nothing). Someone else's link is not found."""
    user = request_user(request)
    error = ""
    details = None
    try:
        details = bank_details_from_token(user=user, token=token)
    except NotFound:
        raise Http404("No such confirmation link.") from None
    except QuorumError as exc:
        error = exc.message
    if request.method == "POST" and details is not None:
        try:
            account = bank_details_confirm(user=user, token=token)
        except NotFound:
            raise Http404("No such confirmation link.") from None
        except QuorumError as exc:
            error = exc.message
        else:
            when = f"{account.usable_from:%Y-%m-%d %H:%M} UTC" if account.usable_from else "now"
            messages.success(
                request, f"Your payout details are confirmed; payouts use them from {when}."
            )
            return redirect("payments:payout_account")
    return render(
        request,
        "payments/payout_account_confirm.html",
        {"details": details, "error": error},
        status=400 if error else 200,
    )


@require_action(Action.PAYOUT_ACCOUNTS_VIEW)
@require_GET
def finance_payout_accounts(request: HttpRequest) -> HttpResponse:
    """Every person's payout account, masked, with whether a payout may use it now."""
    accounts = payout_accounts_visible_to(request.user).select_related("stripe_connected_account")
    status = request.GET.get("status", "")
    now = timezone.now()
    if status in PayoutAccountStatus.values:
        accounts = payout_accounts_in_status_at(accounts, status, now)
    page = Paginator(accounts, PER_PAGE).get_page(request.GET.get("page"))
    rows = [(account, payout_account_status_at(account, now)) for account in page]
    return render(
        request,
        "payments/payout_accounts.html",
        {"page": page, "rows": rows, "status": status, "statuses": PayoutAccountStatus.choices},
    )


@require_action(Action.PAYOUT_PROVIDERS_MANAGE)
@require_http_methods(["GET", "POST"])
def finance_payout_providers(request: HttpRequest) -> HttpResponse:
    """The providers offered per country; countries not listed offer the default."""
    actor = request_user(request)
    op = request.POST.get("op", "set")
    form = CountryProvidersForm(request.POST if request.method == "POST" and op == "set" else None)
    if request.method == "POST":
        try:
            if op == "reset":
                country = request.POST.get("country", "")
                payout_country_providers_reset(country=country, actor=actor)
                messages.success(request, f"{country.upper()} offers the default providers again.")
                return redirect("payments:payout_providers")
            if form.is_valid():
                row = payout_country_providers_set(actor=actor, **form.cleaned_data)
                messages.success(request, f"Saved the providers offered in {row.country}.")
                return redirect("payments:payout_providers")
        except QuorumError as exc:
            form_add_error(form, exc)
    labels = dict(PayoutProvider.choices)
    return render(
        request,
        "payments/payout_providers.html",
        {
            "form": form,
            "rows": payout_country_providers_list(),
            "labels": labels,
            "default": [labels[p] for p in payout_providers_default()],
        },
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("payout-account/", payout_account, name="payout_account"),
    path(
        "payout-account/confirm/<str:token>/",
        payout_account_confirm,
        name="payout_account_confirm",
    ),
    path("finance/payout-accounts/", finance_payout_accounts, name="payout_accounts"),
    path("finance/payout-providers/", finance_payout_providers, name="payout_providers"),
]
