"""Portal pages of customers' IP allowlists, for Quorum administrators and customers' administrators.

Another customer is "not found"; anyone who does not administer the customer is refused (403).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.selectors import request_user
from core.audit import audit_events_about
from core.errors import QuorumError
from core.forms import form_add_error
from core.models import AuditEvent
from core.net import client_address
from labeling import policy
from labeling.models import Customer
from labeling.services.access import MAX_IP_ALLOWLIST_ENTRIES, customer_ip_allowlist_set

CUSTOMERS_PER_PAGE = 50
RECENT_CHANGES = 10


class IpAllowlistForm(forms.Form):
    ip_allowlist = forms.CharField(
        label="Allowed networks",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=(
            "One network per line, as a CIDR range (203.0.113.0/24, 2001:db8::/32) or a single "
            f"address; at most {MAX_IP_ALLOWLIST_ENTRIES}. Leave empty to allow every address."
        ),
    )
    force = forms.BooleanField(
        label="Save even though this list leaves out the address I am using now",
        required=False,
    )

    def networks(self) -> list[str]:
        text: str = self.cleaned_data["ip_allowlist"]
        return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _administered(request: HttpRequest, customer_id: int) -> Customer:
    customer = get_object_or_404(policy.customers_visible_to(request.user), pk=customer_id)
    if not policy.customers_administered_by(request.user).filter(pk=customer.pk).exists():
        raise PermissionDenied
    return customer


@login_required
@require_GET
def customer_ip_allowlist_list(request: HttpRequest) -> HttpResponse:
    """The customers whose allowlists this person manages (their own, for a customer's admin)."""
    customers = policy.customers_administered_by(request.user).order_by("name", "pk")
    if not customers.exists():
        raise PermissionDenied
    page = Paginator(customers, CUSTOMERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "labeling/customer_ip_allowlist_list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def customer_ip_allowlist(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Show and replace a customer's IP allowlist, with its recent changes."""
    customer = _administered(request, customer_id)
    address = client_address(request.META)
    form = IpAllowlistForm(
        request.POST or None, initial={"ip_allowlist": "\n".join(customer.ip_allowlist)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            customer_ip_allowlist_set(
                customer=customer,
                entries=form.networks(),
                actor=request_user(request),
                actor_address=address,
                force=form.cleaned_data["force"],
            )
        except QuorumError as error:
            form_add_error(form, error)
        else:
            messages.success(request, f"Saved the IP allowlist of {customer.name}.")
            return redirect("labeling:customer_ip_allowlist", customer_id=customer.pk)
    # Whoever administers the allowlist may see its history (not the rest of the audit trail).
    changes = (
        audit_events_about(AuditEvent.objects.select_related("actor"), customer)
        .filter(action="customer.ip_allowlist_changed")
        .order_by("-occurred_at", "-id")[:RECENT_CHANGES]
    )
    return render(
        request,
        "labeling/customer_ip_allowlist.html",
        {"customer": customer, "form": form, "your_address": address, "changes": changes},
    )
