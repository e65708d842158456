"""Portal pages of Stripe Connect (wired into payments/urls.py): starting or continuing the
person's set-up on Stripe (a button on the payout account page sends them to Stripe's hosted
onboarding), the page Stripe brings them back to (it re-fetches the account from Stripe), and the
page an expired link leads to (it asks Stripe for a new link)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import require_action
from accounts.policy import Action
from accounts.selectors import request_user
from core.errors import QuorumError
from payments.forms import _country_choices, _currency_choices
from payments.services.stripe_connect import (
    stripe_connect_onboarding_link,
    stripe_connect_start,
    stripe_connected_account_refresh,
)


class StripeConnectForm(forms.Form):
    """The country of the person's Stripe account and the currency they are paid in."""

    country = forms.ChoiceField(label="Your country", choices=_country_choices)
    currency = forms.ChoiceField(label="Currency you are paid in", choices=_currency_choices)


def _back(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect("payments:payout_account")


@require_action(Action.PROFILE_EDIT_OWN)
@require_POST
def stripe_connect_continue(request: HttpRequest) -> HttpResponse:
    """Create the person's Stripe account if needed and send them to Stripe's set-up pages."""
    user = request_user(request)
    form = StripeConnectForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(
            f"{name}: {' '.join(str(m) for m in msgs)}" for name, msgs in form.errors.items()
        )
        return _back(request, f"Choose your country and currency ({errors}).")
    try:
        stripe_connect_start(user=user, **form.cleaned_data)
        url = stripe_connect_onboarding_link(user=user)
    except QuorumError as exc:
        return _back(request, exc.message)
    return redirect(url)


@require_action(Action.PROFILE_EDIT_OWN)
@require_GET
def stripe_connect_refresh(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends the person when a set-up link expired: a new link, at once."""
    try:
        url = stripe_connect_onboarding_link(user=request_user(request))
    except QuorumError as exc:
        return _back(request, exc.message)
    return redirect(url)


@require_action(Action.PROFILE_EDIT_OWN)
@require_GET
def stripe_connect_return(request: HttpRequest) -> HttpResponse:
    """Where Stripe brings the person back: re-fetch their account and show its state on the
    payout account page (returning does not mean the set-up is finished)."""
    try:
        row = stripe_connected_account_refresh(user=request_user(request))
    except QuorumError as exc:
        return _back(request, exc.message)
    if row.can_receive_transfers:
        messages.success(request, "Your Stripe account can receive payouts.")
    else:
        messages.warning(
            request,
            "Stripe still needs information before it can pay you: continue the set-up below.",
        )
    return redirect("payments:payout_account")


urlpatterns: list[URLPattern | URLResolver] = [
    path("payout-account/stripe/", stripe_connect_continue, name="stripe_connect_continue"),
    path("payout-account/stripe/refresh/", stripe_connect_refresh, name="stripe_connect_refresh"),
    path("payout-account/stripe/return/", stripe_connect_return, name="stripe_connect_return"),
]
