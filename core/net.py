"""The address a request came from, as far as the proxies Quorum trusts can vouch for it."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """Return the address in `text` (an IPv4 address with a port or a bracketed IPv6 one too), or None.

    IPv4 addresses written as IPv6 (`::ffff:192.0.2.1`) come back as IPv4, so that they match
    IPv4 ranges.
    """
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443" or "[2001:db8::1]"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "192.0.2.1:443"; IPv6 has at least two colons
        text = text.partition(":")[0]
    try:
        # A zone (`fe80::1%eth0`) names an interface of the machine that wrote it: not ours.
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(meta: Mapping[str, Any]) -> IPAddress | None:
    """Return the client's address of a request from its WSGI environ (`request.META`), or None.

    With `TRUSTED_PROXY_COUNT = 0` it is `REMOTE_ADDR` and `X-Forwarded-For` is ignored. With N
    trusted proxies in front of Quorum, each of which appends the address it saw to
    `X-Forwarded-For`, it is the address the outermost trusted proxy saw: the N-th entry from the
    right of `X-Forwarded-For` (`REMOTE_ADDR` is then the innermost proxy). Entries further left
    were written by the client or untrusted hops and are never used, so adding some does not help
    a client pretend to be elsewhere. When the header has fewer entries than there are trusted
    proxies, or the chosen entry is not an address, the address is unknown (None): a request
    that did not come through the proxies as configured cannot say where it came from.
    """
    trusted: int = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return parse_address(str(meta.get("REMOTE_ADDR", "")))
    # Several X-Forwarded-For headers reach WSGI joined with commas, in the order they were sent.
    hops = [hop for hop in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
    if len(hops) < trusted:
        return None
    return parse_address(hops[-trusted])


def address_in_networks(address: IPAddress | None, networks: Sequence[str]) -> bool:
    """Return whether `address` is inside one of `networks` (CIDR strings); unknown is outside."""
    if address is None:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)
