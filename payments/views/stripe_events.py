"""Finance's view of Stripe webhooks: the events received, their processing, failures, retries."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.policy import Action, can
from core.errors import Conflict, NotFound
from payments.forms import StripeEventFilterForm
from payments.models import StripeEvent
from payments.selectors.stripe_events import stripe_event_counts, stripe_events_list
from payments.services.stripe_events import stripe_event_retry
from payments.stripe_client import stripe_configured, stripe_webhook_configured

PER_PAGE = 50


def _require_manage(request: HttpRequest) -> None:
    if not can(request.user, Action.STRIPE_EVENTS_MANAGE):
        raise PermissionDenied


@login_required
@require_GET
def stripe_events(request: HttpRequest) -> HttpResponse:
    """Events received from Stripe, newest first, with how many are pending or failed."""
    _require_manage(request)
    form = StripeEventFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    events = stripe_events_list(
        status=data.get("status") or None,
        type_prefix=data.get("type") or None,
        search=(data.get("search") or "").strip() or None,
    )
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/stripe_events.html",
        {
            "form": form,
            "page": page,
            "counts": stripe_event_counts(),
            "stripe_configured": stripe_configured(),
            "webhook_configured": stripe_webhook_configured(),
            "webhook_url": request.build_absolute_uri(reverse("stripe-webhook")),
        },
    )


@login_required
@require_GET
def stripe_event_detail(request: HttpRequest, stripe_event: str) -> HttpResponse:
    """One event (by Stripe's own id, "evt_..."): its processing and the payload as Stripe sent it."""
    _require_manage(request)
    event = StripeEvent.objects.filter(pk=stripe_event).first()
    if event is None:
        raise Http404
    return render(
        request,
        "payments/stripe_event.html",
        {"event": event, "payload": json.dumps(event.payload, indent=2, sort_keys=True)},
    )


@login_required
@require_POST
def stripe_event_retry_view(request: HttpRequest, stripe_event: str) -> HttpResponse:
    """Retry processing an event now (finance, after fixing what made it fail)."""
    _require_manage(request)
    try:
        stripe_event_retry(event_id=stripe_event, actor=request.user)
    except NotFound as exc:
        raise Http404 from exc
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Stripe event {stripe_event} is queued to be processed again.")
    return redirect("payments:stripe-event", stripe_event=stripe_event)


urlpatterns: list[URLPattern | URLResolver] = [
    path("finance/stripe/events/", stripe_events, name="stripe-events"),
    # Stripe's own event ids ("evt_..."), not Quorum's numeric ids: a string, hence not `*_id`.
    path("finance/stripe/events/<str:stripe_event>/", stripe_event_detail, name="stripe-event"),
    path(
        "finance/stripe/events/<str:stripe_event>/retry/",
        stripe_event_retry_view,
        name="stripe-event-retry",
    ),
]
