"""Writes about who may reach a customer's data from where: IP allowlists, customer administrators,
and the record of refused requests."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.db import transaction

from accounts.models import User
from core.audit import audit_record
from core.errors import ValidationFailed
from core.net import IPAddress, address_in_networks
from labeling.errors import IpAllowlistExcludesYou
from labeling.models import Customer, CustomerMember
from labeling.policy import is_bound_by_ip_allowlists

FIELD = "ip_allowlist"
# Enough for any organisation's offices, VPNs and cloud egress; more usually means a pasted list of
# single addresses where a range was meant, and every request walks the list.
MAX_IP_ALLOWLIST_ENTRIES = 100


def ip_allowlist_clean(entries: Any) -> list[str]:
    """Return `entries` as normalised CIDR strings (IPv4 or IPv6, duplicates dropped, order kept).

    A bare address is its own /32 (or /128). A range with host bits set (`10.0.0.5/24`) is refused
    rather than silently widened or narrowed: the message names the range that was probably meant.
    Raise ValidationFailed naming the `ip_allowlist` field and each bad entry.
    """
    if not isinstance(entries, list):
        raise ValidationFailed(
            f"{FIELD}: Give a list of networks such as 203.0.113.0/24 or 2001:db8::/32.",
            fields={FIELD: ["Must be a list of networks."]},
        )
    if len(entries) > MAX_IP_ALLOWLIST_ENTRIES:
        message = f"At most {MAX_IP_ALLOWLIST_ENTRIES} networks; {len(entries)} were given."
        raise ValidationFailed(f"{FIELD}: {message}", fields={FIELD: [message]})
    networks: list[str] = []
    errors: list[str] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry.strip():
            errors.append(f"Entry {index + 1} is not a network.")
            continue
        text = entry.strip()
        try:
            network = ipaddress.ip_network(text)
        except ValueError:
            try:
                meant = ipaddress.ip_network(text, strict=False)
            except ValueError:
                errors.append(
                    f"Entry {index + 1} ({text!r}) is not a network: write it as an address "
                    "(203.0.113.7) or a CIDR range (203.0.113.0/24, 2001:db8::/32)."
                )
            else:
                errors.append(
                    f"Entry {index + 1} ({text!r}) has host bits set: did you mean {meant}?"
                )
            continue
        if str(network) not in networks:
            networks.append(str(network))
    if errors:
        raise ValidationFailed(f"{FIELD}: {errors[0]}", fields={FIELD: errors})
    return networks


@transaction.atomic
def customer_ip_allowlist_set(
    *,
    customer: Customer,
    entries: Any,
    actor: User,
    actor_address: IPAddress | None,
    force: bool = False,
) -> Customer:
    """Replace the customer's IP allowlist (an empty list lets its users in from anywhere).

    Refuse (IpAllowlistExcludesYou) a list that would shut out the actor's own address, when the
    actor is bound by this customer's list, unless `force`. Lock the customer row.
    """
    networks = ip_allowlist_clean(entries)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    bound = (
        is_bound_by_ip_allowlists(actor)
        and CustomerMember.objects.filter(customer=customer, user_id=actor.pk).exists()
    )
    if networks and bound and not force and not address_in_networks(actor_address, networks):
        where = str(actor_address) if actor_address is not None else "an unknown address"
        message = (
            f"This list does not include the address you are saving from ({where}), so you "
            "would lose access at once. Add your network, or save with force to do it anyway."
        )
        raise IpAllowlistExcludesYou(f"{FIELD}: {message}", fields={FIELD: [message]})
    before = list(customer.ip_allowlist)
    if before == networks:
        return customer
    customer.ip_allowlist = networks
    customer.save(update_fields=["ip_allowlist"])
    audit_record(
        actor=actor,
        action="customer.ip_allowlist_changed",
        target=customer,
        before={FIELD: before},
        after={FIELD: networks, "forced": force},
        ip_address=str(actor_address) if actor_address is not None else None,
    )
    return customer


@transaction.atomic
def customer_member_admin_set(
    *, member: CustomerMember, is_admin: bool, actor: User
) -> CustomerMember:
    """Mark or unmark a customer's user as an administrator of the customer's settings."""
    member = CustomerMember.objects.select_for_update().select_related("user").get(pk=member.pk)
    if member.is_admin == is_admin:
        return member
    before = {"user": member.user_id, "is_admin": member.is_admin}
    member.is_admin = is_admin
    member.save(update_fields=["is_admin"])
    audit_record(
        actor=actor,
        action="customer.member_admin_changed",
        target=member.customer,
        before=before,
        after={"user": member.user_id, "is_admin": is_admin},
    )
    return member


@transaction.atomic
def ip_refusal_record(
    *, user: User, customer: Customer, address: IPAddress | None, path: str
) -> None:
    """Audit a request of `user` refused because its address is outside `customer`'s allowlist."""
    audit_record(
        actor=user,
        action="customer.ip_refused",
        target=customer,
        # The address goes in the event's own column only: erasing a person's data clears it there.
        after={"user": user.pk, "path": path[:200]},
        ip_address=str(address) if address is not None else None,
    )
