"""The rate limit of annotators' and reviewers' work calls (claim, lease actions, verdicts)."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import ScopedRateThrottle

from core.cache import counter_add


class WorkThrottle(ScopedRateThrottle):
    """`RATE_LIMIT_WORK` calls per person, counted in fixed windows of the rate's period.

    DRF's throttles keep every call's time in one cache entry, read and written back on each
    call; a counter per window takes one cache round trip and no list. A burst can straddle two
    windows (up to twice the rate for a moment), which a rate limit of this kind tolerates.
    """

    scope_attr = "throttle_scope"

    def counter(self, request: Any, view: Any) -> tuple[str, int] | None:
        """The counter this call adds to (key, lifetime in seconds), or None when unlimited."""
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return None
        self.rate = self.get_rate()
        self.num_requests, period = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if self.num_requests is None or period is None or key is None:
            return None
        self.now = self.timer()
        window = int(self.now // period)
        self.window_ends = (window + 1) * period
        return f"{key}:{window}", period + 1

    def allows(self, count: int) -> bool:
        """Whether a call that brought the counter to `count` is within the rate."""
        return self.num_requests is None or count <= self.num_requests

    def allow_request(self, request: Any, view: Any) -> bool:
        counter = self.counter(request, view)
        return counter is None or self.allows(counter_add(*counter))

    def wait(self) -> float:
        return max(0.0, self.window_ends - self.now)
