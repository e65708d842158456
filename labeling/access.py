"""Where a customer's users may come from: the customer's IP allowlist, checked on every request.

One check, called from every way in: portal pages and the API with a session
(`labeling.middleware.CustomerIpAllowlistMiddleware`), the API with a token
(`labeling.api.authentication.AllowlistedTokenAuthentication`) and the claim/submit short path
(`labeling.api.hotpath`). Who is bound by which list is `labeling.policy.ip_allowlist_binding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.cache import cache

from core.net import address_in_networks, client_address
from labeling.errors import IpNotAllowed
from labeling.policy import ip_allowlist_binding
from labeling.services.access import ip_refusal_record

# A refused client retrying in a loop must not fill the audit table: one record per person and
# address in this many seconds.
REFUSAL_AUDIT_SECONDS = 60


def ip_allowlist_permits(*, user: Any, meta: Mapping[str, Any]) -> bool:
    """Return whether `user` may be served from the address of a request (its `META`)."""
    customer = ip_allowlist_binding(user)
    return customer is None or address_in_networks(client_address(meta), customer.ip_allowlist)


def ip_allowlist_require(*, user: Any, meta: Mapping[str, Any], path: str) -> None:
    """Raise IpNotAllowed unless `user` may be served from this address; audit the refusal
    (at most once per person and address every REFUSAL_AUDIT_SECONDS)."""
    customer = ip_allowlist_binding(user)
    if customer is None:
        return
    address = client_address(meta)
    if address_in_networks(address, customer.ip_allowlist):
        return
    if cache.add(f"labeling:ip-refused:{user.pk}:{address}", 1, REFUSAL_AUDIT_SECONDS):
        ip_refusal_record(user=user, customer=customer, address=address, path=path)
    raise IpNotAllowed(extra={"address": str(address) if address is not None else None})
