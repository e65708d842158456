"""Failed sign-ins slow down the address that fails, never the account.

Refusing an account after a few failures lets anyone who knows an e-mail address lock its owner
out. Here failures are counted per (account, address) pair and per address, each over a window
that starts at its first failure. The first failures are free (a person mistyping); after them,
each further failure makes the pair (or the whole address) wait before its next attempt: 2 s, then
4 s, 8 s, … up to a ceiling. While it waits, an attempt from there is refused without looking at
the password, so guessing gets exponentially slower; an attempt from any other address, the
owner's, goes ahead as usual. The address-wide count stops one address from trying a few
passwords against many accounts.

The price: someone guessing one account's password from many addresses gets the free failures
at each of them. Strong passwords (the validators refuse common and short ones) and a second
factor (required for managers, finance and admins) answer that; a second factor's own step is
rate limited per account by allauth (see `ACCOUNT_RATE_LIMITS["login_failed"]`).

Counters live in the cache (Redis in production), so every web process shares them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from core.cache import counter_add

# The first wait after the free failures; each further failure doubles it.
FIRST_WAIT_SECONDS = 2


@dataclass(frozen=True)
class _Counter:
    """One kind of failure count: its cache keys and how many failures are free."""

    name: str
    free: int

    def failures_key(self, source: str) -> str:
        return f"accounts:signin:{self.name}:{source}:failures"

    def until_key(self, source: str) -> str:
        return f"accounts:signin:{self.name}:{source}:until"


def _now() -> float:
    return time.time()


def _address_source(address: str) -> str:
    # An IPv6 client usually holds a whole /64: count it as one address.
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False).network_address)
    return str(parsed)


def _counters(*, login: str, address: str) -> list[tuple[_Counter, str]]:
    source = _address_source(address)
    pair = hashlib.sha256(f"{login.strip().lower()}\n{source}".encode()).hexdigest()
    return [
        (_Counter("pair", settings.QUORUM_SIGNIN_FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS), pair),
        (_Counter("address", settings.QUORUM_SIGNIN_FREE_FAILURES_PER_ADDRESS), source),
    ]


def _wait_after(failures: int, free: int) -> float:
    if failures <= free:
        return 0.0
    return float(
        min(
            FIRST_WAIT_SECONDS * 2 ** min(failures - free - 1, 32),
            settings.QUORUM_SIGNIN_MAX_WAIT_SECONDS,
        )
    )


def signin_wait_seconds(*, login: str, address: str) -> int:
    """Return how many seconds a sign-in to `login` from `address` must wait (0: go ahead)."""
    counters = _counters(login=login, address=address)
    until = cache.get_many([counter.until_key(source) for counter, source in counters])
    latest = max(until.values(), default=0.0)
    return max(0, math.ceil(latest - _now()))


def signin_failed(*, login: str, address: str) -> None:
    """Count a failed sign-in to `login` from `address`; past the free ones, make them wait."""
    window = settings.QUORUM_SIGNIN_FAILURE_WINDOW_SECONDS
    now = _now()
    for counter, source in _counters(login=login, address=address):
        wait = _wait_after(counter_add(counter.failures_key(source), window), counter.free)
        if wait:
            cache.set(counter.until_key(source), now + wait, math.ceil(wait) + 1)


def signin_succeeded(*, login: str, address: str) -> None:
    """Forget the failures of `login` from `address` (the owner's own typing mistakes).

    The address-wide count stays: otherwise signing in to one's own account now and then would
    let an address keep trying passwords against others.
    """
    counter, source = _counters(login=login, address=address)[0]
    cache.delete_many([counter.failures_key(source), counter.until_key(source)])
