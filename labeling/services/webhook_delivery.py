"""Sending webhook deliveries: the signed body, one HTTP attempt at a time, retries with backoff.

A delivery is sent at least once: a customer may receive the same delivery twice (after a worker
crash, say) and should deduplicate by its `id`. It is never sent by two workers at the same time:
an attempt is claimed by a compare-and-set on the attempt count before the HTTP call. Deliveries
are created by `labeling.services.webhooks.webhooks_emit`; the jobs of `labeling.jobs.webhooks`
make their attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import NotFound
from labeling.models import WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus
from labeling.services.webhooks import webhook_http_allowed_hosts, webhook_url_problem
from labeling.sources.streams import SourceError
from labeling.sources.web import private_destination

USER_AGENT = "Quorum-Webhooks/1"
SIGNATURE_HEADER = "X-Quorum-Signature"
# Waits after the 1st, 2nd, ... failed attempt; the last one repeats. Each gets +-20% jitter so
# that deliveries failing together (an endpoint that was down) do not come back together.
RETRY_DELAYS_SECONDS = (30, 120, 600, 3600, 6 * 3600, 12 * 3600, 24 * 3600)
RETRY_JITTER = 0.2
# How long a claimed attempt may take before another worker may take the delivery over: a worker
# that died mid-call must not leave the delivery stuck, and a live one must finish first.
CLAIM_MARGIN_SECONDS = 60
ERROR_MAX_LENGTH = 500


def _timeout_seconds() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10))


def _max_attempts() -> int:
    return max(1, int(getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 8)))


# --- Signing --------------------------------------------------------------------------------


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """Return the exact bytes sent (and signed) for `delivery`."""
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def _signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    """Return the `X-Quorum-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256>`."""
    return f"t={timestamp},v1={_signature(secret, timestamp, body)}"


def webhook_signature_verify(
    *,
    secret: str,
    header: str,
    body: bytes | str,
    tolerance_seconds: int = 300,
    now: datetime | None = None,
) -> bool:
    """Check an `X-Quorum-Signature` header the way we ask customers to.

    True when one `v1` value is the HMAC-SHA256, keyed by the endpoint's secret, of
    `"<t>." + body` (the raw request body, before any JSON parsing), and `t` is within
    `tolerance_seconds` of now (which stops replays of old deliveries).
    """
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = (now or timezone.now()).timestamp()
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _signature(secret, timestamp, raw)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


# --- Delivering -----------------------------------------------------------------------------


def webhook_retry_delay(attempts: int, *, jitter: float | None = None) -> timedelta:
    """Return how long to wait after `attempts` failed attempts (1 is the first failure).

    `jitter` is a factor in [-RETRY_JITTER, RETRY_JITTER]; random when not given.
    """
    base = RETRY_DELAYS_SECONDS[min(max(attempts, 1), len(RETRY_DELAYS_SECONDS)) - 1]
    if jitter is None:
        # Spreading retries is not a security matter; a plain PRNG is what it needs.
        jitter = random.uniform(-RETRY_JITTER, RETRY_JITTER)  # noqa: S311
    jitter = max(-RETRY_JITTER, min(RETRY_JITTER, jitter))
    return timedelta(seconds=base * (1 + jitter))


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Report a redirect as the endpoint's answer instead of following it to another host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _destination_problem(url: str) -> str | None:
    """Refuse host names that resolve to the internal network (checked at each send)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = private_destination(host, port, allowed=webhook_http_allowed_hosts())
    except (SourceError, ValueError):
        return None  # an unknown host fails at connect time and is recorded as such
    if address is not None:
        return f"{host} resolves to a private or local address ({address}); webhooks go to public hosts only."
    return None


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> _Outcome:
    """POST `body` to `url` once; never raises for what the network or the endpoint does."""
    started = time.monotonic()

    def outcome(status_code: int | None, error: str = "") -> _Outcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return _Outcome(status_code, error[:ERROR_MAX_LENGTH], max(elapsed, 0))

    problem = webhook_url_problem(url) or _destination_problem(url)
    if problem is not None:
        return outcome(None, f"Refused to send: {problem}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310  (scheme checked above)
    opener = urllib.request.build_opener(_RefuseRedirects)
    try:
        with opener.open(request, timeout=_timeout_seconds()) as response:
            return outcome(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return outcome(exc.code)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # URLError (refused, unknown host, bad certificate) and timeouts are OSErrors.
        reason = getattr(exc, "reason", None) or exc
        return outcome(None, f"{type(exc).__name__}: {reason}")


def _delivery_get_for_update(delivery_id: int) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .select_related("endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound("This webhook delivery no longer exists.")
    return delivery


@dataclass(frozen=True)
class _Claim:
    attempt: int
    url: str
    secret: str
    event: str
    body: bytes


def _claim(delivery_id: int) -> tuple[WebhookDelivery, _Claim | None]:
    """Take the next attempt of a due delivery, or return None when there is nothing to send."""
    with transaction.atomic():
        delivery = _delivery_get_for_update(delivery_id)
        now = timezone.now()
        due = delivery.next_attempt_at is None or delivery.next_attempt_at <= now
        if delivery.status != WebhookDeliveryStatus.PENDING or not due:
            return delivery, None
        endpoint = delivery.endpoint
        if not endpoint.is_active or delivery.attempts >= _max_attempts():
            # Deactivated since it was emitted, or the attempts ran out without a recorded verdict.
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "next_attempt_at"])
            return delivery, None
        # Compare-and-set: only the caller that moves the count from n to n+1 sends attempt n+1;
        # the claim holds the delivery until the call has surely ended.
        attempt = delivery.attempts + 1
        hold = timedelta(seconds=_timeout_seconds() * 2 + CLAIM_MARGIN_SECONDS)
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDeliveryStatus.PENDING, attempts=delivery.attempts
        ).update(attempts=attempt, next_attempt_at=now + hold)
        if claimed != 1:
            delivery.refresh_from_db()
            return delivery, None
        return delivery, _Claim(
            attempt=attempt,
            url=endpoint.url,
            secret=endpoint.secret,
            event=delivery.event,
            body=webhook_body(delivery),
        )


def _record(delivery_id: int, claim: _Claim, outcome: _Outcome) -> WebhookDelivery:
    with transaction.atomic():
        delivery = _delivery_get_for_update(delivery_id)
        now = timezone.now()
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=now - timedelta(milliseconds=outcome.duration_ms),
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
        if delivery.status != WebhookDeliveryStatus.PENDING:
            return delivery
        if outcome.succeeded:
            delivery.status = WebhookDeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif delivery.attempts != claim.attempt:
            # Our claim ran out and another worker took the delivery over: its verdict counts.
            return delivery
        elif claim.attempt >= _max_attempts():
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + webhook_retry_delay(claim.attempt)
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at"])
        return delivery


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery:
    """Send the delivery once if it is pending and due, record the attempt, and plan what follows.

    Returns the delivery as it is afterwards: succeeded; failed (attempts ran out); or pending with
    `next_attempt_at` set (a retry is due then, or an attempt by another caller is in flight).
    Does nothing to a delivery that is finished or not yet due. Call it outside any transaction:
    the HTTP request is made between two short ones and holds no lock. Raises NotFound when the
    delivery no longer exists.
    """
    delivery, claim = _claim(delivery_id)
    if claim is None:
        return delivery
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Quorum-Event": claim.event,
        "X-Quorum-Delivery": str(delivery_id),
        SIGNATURE_HEADER: webhook_signature_header(
            secret=claim.secret, body=claim.body, timestamp=int(time.time())
        ),
    }
    outcome = _post(url=claim.url, body=claim.body, headers=headers)
    return _record(delivery_id, claim, outcome)
